import Foundation
import HTTPTypes
@_exported import HalqaTestSupport
import Hummingbird
import HummingbirdTesting
import HummingbirdWSTesting
import Logging
import Meeting
import Synchronization
import Testing

@testable import Node

/// Every line the node logs during a test, to check that none holds an address, a token or text.
final class LogCollector: Sendable {
    let lines = Mutex<[String]>([])

    struct Handler: LogHandler {
        let collector: LogCollector
        var metadata: Logger.Metadata = [:]
        var logLevel: Logger.Level = .trace
        subscript(metadataKey key: String) -> Logger.Metadata.Value? {
            get { metadata[key] }
            set { metadata[key] = newValue }
        }
        func log(event: LogEvent) {
            let all = metadata.merging(event.metadata ?? [:]) { $1 }
            collector.lines.withLock { $0.append("\(event.level) \(event.message) \(all)") }
        }
    }

    var logger: Logger { Logger(label: "test") { _ in Handler(collector: self) } }
    var text: String { lines.withLock { $0.joined(separator: "\n") } }
}

/// A hosted session on a real store, served in process.
struct HostedFixture {
    let folder = TemporaryFolder()
    let room: MeetingRoom
    let store: TranscriptStore
    let logs = LogCollector()

    init(minimum: Int = 3, onePerPrompt: Bool = true, deck: String = "seeds/decks/real-man.deck") async throws {
        let options = HostOptions(
            deckPath: FileManager.default.currentDirectoryPath + "/" + deck, resume: nil,
            title: "Tuesday circle", port: 0, bind: "127.0.0.1", dataFolder: folder.path,
            minimumToReveal: minimum, onePerPrompt: onePerPrompt)
        (room, store) = try await Host.prepare(options)
    }

    var joinCode: String { room.access.joinCode }
    var secret: String { room.access.facilitatorSecret }

    /// Runs `test` against the node's own server on loopback. The node and the test run on
    /// threads of their own (``DedicatedExecutor``): tests elsewhere that block or compute
    /// for a long time cannot starve them past the node's own deadlines (a first request head
    /// within 10 s), which made these tests fail in the full suite and pass alone.
    func live<Value: Sendable>(limits: ServingLimits = .init(), _ test: @escaping @Sendable (any TestClientProtocol) async throws -> Value)
        async throws -> Value
    {
        try await withTaskExecutorPreference(DedicatedExecutor.shared) { try await app(limits: limits).test(.live, test) }
    }

    /// The node's own server, with its serving limits (docs/limits.md).
    func app(limits: ServingLimits = .init(), bind: String = "127.0.0.1") throws -> some ApplicationProtocol {
        let router = Routes.router(for: room, pages: try Pages(), limits: limits)
        // The room's service tells the console of arrivals; its resonance cadence is left to
        // the tests that are about it (RoomSilenceTests).
        return Application(
            router: router, server: Host.server(router: router, limits: limits),
            configuration: Host.serverConfiguration(bind: bind, port: 0, limits: limits),
            services: [RoomService(room: room, cadence: .seconds(3600))], logger: logs.logger)
    }
}

/// Small helpers over the test client.
struct API {
    let client: any TestClientProtocol

    @discardableResult
    func call(_ method: HTTPRequest.Method, _ uri: String, token: String? = nil, json: String? = nil, bytes: [UInt8]? = nil) async throws
        -> (HTTPResponse.Status, [String: Any], TestResponse)
    {
        var headers: HTTPFields = [:]
        if let token { headers[.authorization] = "Bearer " + token }
        var body: ByteBuffer?
        if let json {
            body = ByteBuffer(string: json)
            headers[.contentType] = "application/json"
        }
        if let bytes {
            body = ByteBuffer(bytes: bytes)
            headers[.contentType] = "application/json"
        }
        let response = try await client.execute(uri: uri, method: method, headers: headers, body: body)
        let object = (try? JSONSerialization.jsonObject(with: Data(response.body.readableBytesView))) as? [String: Any] ?? [:]
        return (response.status, object, response)
    }

    func errorCode(_ object: [String: Any]) -> String? { (object["error"] as? [String: Any])?["code"] as? String }

    func join(_ code: String) async throws -> String {
        let (status, body, _) = try await call(.post, "/api/join", json: #"{"code":"\#(code)"}"#)
        #expect(status == .created)
        return body["token"] as! String
    }

    func console(_ secret: String, _ action: String, _ json: String) async throws -> (HTTPResponse.Status, [String: Any]) {
        let (status, body, _) = try await call(.post, "/api/console/" + action, token: secret, json: json)
        return (status, body)
    }
}
