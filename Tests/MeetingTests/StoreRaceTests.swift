import Foundation
import Synchronization
import Testing

@testable import Meeting

/// What the store must keep, or must not keep, when things happen at the same moment: phones
/// writing while a facilitator acts, another node's events arrive, or the session is wiped.
@Suite("The store when things happen at once")
struct StoreRaceTests {
    final class Acknowledged: Sendable {
        let ids = Mutex<[EventID]>([])
        func add(_ id: EventID) { ids.withLock { $0.append(id) } }
        var all: [EventID] { ids.withLock { $0 } }
    }

    /// Threat to the no-loss rule: a reflection is on disk before its writer hears "received";
    /// the session takes it in a moment later, and a facilitator's action in between must not
    /// settle it away.
    @Test("every reflection acknowledged while facilitators act is on disk, after a reveal and after reopening the folder")
    func acknowledgedSurviveConcurrentActions() async throws {
        let folder = TemporaryFolder()
        let store = try TranscriptStore(folder: folder.path)
        let session = try await LiveSession.start(deck: trilingualDeck(prompts: 2), in: store)
        try await session.open(prompt: 0)
        let acknowledged = Acknowledged()
        try await withThrowingTaskGroup(of: Void.self) { group in
            for phone in 0..<8 {
                group.addTask {
                    for i in 0..<25 { acknowledged.add(try await session.submitReflection(prompt: 0, text: "phone \(phone), \(i)")) }
                }
            }
            group.addTask { for i in 0..<40 { try await session.writeNote("while they write, \(i)") } }
            try await group.waitForAll()
        }
        func stored(_ store: TranscriptStore) throws -> Set<EventID> {
            Set(try store.events(of: session.id).filter { if case .reflectionSubmitted = $0.body { true } else { false } }.map(\.id))
        }
        let lost = Set(acknowledged.all).subtracting(try stored(store))
        #expect(lost.isEmpty, "\(lost.count) of \(acknowledged.all.count) acknowledged reflections are not on disk")
        #expect(await session.state.pendingCount(prompt: 0) == 200, "the session lost some it had acknowledged")
        try await session.reveal(prompt: 0)
        let reopened = try TranscriptStore(folder: folder.path)
        #expect(try stored(reopened).count == 200)
        #expect(try reopened.state(of: session.id).revealed(prompt: 0).count == 200)
    }

    /// Threat: someone who takes the laptop after a wipe; phones were still writing when the
    /// facilitator wiped the session.
    @Test("a session wiped while phones are writing leaves none of their text in any file")
    func wipeWhileWriting() async throws {
        let folder = TemporaryFolder()
        let store = try TranscriptStore(folder: folder.path)
        let session = try await LiveSession.start(deck: trilingualDeck(prompts: 1), in: store)
        try await session.open(prompt: 0)
        let acknowledged = Acknowledged()
        try await withThrowingTaskGroup(of: Void.self) { group in
            for phone in 0..<8 {
                group.addTask {
                    for i in 0..<60 {
                        guard let id = try? await session.submitReflection(prompt: 0, text: "wiped words \(phone)-\(i)") else { return }
                        acknowledged.add(id)
                    }
                }
            }
            group.addTask {
                while acknowledged.all.count < 40 { try await Task.sleep(for: .milliseconds(2)) }
                _ = try await session.wipe()
            }
            try await group.waitForAll()
        }
        #expect(acknowledged.all.count >= 40)
        #expect(
            !folder.allBytes().containsSequence(Array("wiped words".utf8)), "a reflection written as the session was wiped is still on disk"
        )
        #expect(try TranscriptStore(folder: folder.path).sessionIDs().isEmpty)
    }
}
