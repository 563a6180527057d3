import Foundation
import Meeting

/// What the console shows of the other nodes, and where pages may move.
extension Replicator {
    public struct Status: Codable, Sendable, Equatable {
        public struct Waiting: Codable, Sendable, Equatable {
            public var id: String
            public var name: String
            public var fingerprint: String
            public var code: String
        }
        public struct Admitted: Codable, Sendable, Equatable {
            public var name: String
            public var fingerprint: String
            public var role: String
            public var connected: Bool
            /// While its person has not confirmed: the code and digest its screen shows.
            public var code: String?
            public var digest: String?
        }
        public var waiting: [Waiting]
        public var admitted: [Admitted]
        /// No co-facilitator is connected: this node holds the meeting's only copy.
        public var singleCopy: Bool
        public var warnings: [String]
        public var fingerprint: String
    }

    public func status() async -> Status {
        let state = await session.state
        let connected = Set(links.values.map(\.key))
        var admitted: [Status.Admitted] = []
        for key in state.facilitators.union(state.archivists) where key != myKey {
            let confirming = desk.confirming[key]
            admitted.append(
                .init(
                    name: state.nodeNames[key] ?? (key == state.creator ? "creator" : "node"), fingerprint: key.fingerprint,
                    role: state.archivists.contains(key) ? "archivist" : "co-facilitator", connected: connected.contains(key),
                    code: confirming?.code, digest: confirming?.digest))
        }
        return Status(
            waiting: desk.waiting.map {
                .init(id: $0.key.uuidString, name: $0.value.name, fingerprint: $0.value.key.fingerprint, code: $0.value.code)
            }
            .sorted { $0.name < $1.name },
            admitted: admitted.sorted { ($0.name, $0.fingerprint) < ($1.name, $1.fingerprint) },
            singleCopy: !links.values.contains { $0.role == .coFacilitator }, warnings: warnings,
            fingerprint: myKey.fingerprint)
    }

    /// Whether a link with `key`'s node is up now.
    func isLinked(to key: PublicKey) -> Bool { links.values.contains { $0.key == key } }

    /// The participant addresses of connected co-facilitators, for pages to move to.
    /// The session's creator comes first: a page on a laptop that stands by goes there.
    func otherNodes() async -> [String] {
        let creator = await session.state.creator
        return links.values.filter { $0.role == .coFacilitator }
            .sorted { ($0.key == creator ? 0 : 1, $0.participantURL ?? "") < ($1.key == creator ? 0 : 1, $1.participantURL ?? "") }
            .compactMap(\.participantURL)
    }
}
