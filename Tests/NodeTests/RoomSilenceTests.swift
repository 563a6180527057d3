import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import HummingbirdWSTesting
import Meeting
import Synchronization
import Testing
import WSClient

@testable import Node

/// Threat: someone in the room who watches who is typing, and watches another phone (or the
/// projector) for the moment something changes (anonymity invariant 6). What the room is sent
/// must not move when one phone writes or taps.
@Suite("The room learns nothing from one phone", .serialized)
struct RoomSilenceTests {
    /// A page's live socket, kept open while the test acts; collects every message it gets.
    final class Watcher: Sendable {
        let messages = Mutex<[String]>([])
        let beats = Mutex(0)
        let done = Mutex(false)
        var count: Int { messages.withLock { $0.count } }
        var all: [String] { messages.withLock { $0 } }
    }

    /// Follows `/api/live` with `hello` while `body` runs.
    static func watching(_ client: some TestClientProtocol, hello: String, _ body: @escaping @Sendable (Watcher) async throws -> Void)
        async throws
    {
        let watcher = Watcher()
        try await withThrowingTaskGroup(of: Void.self) { group in
            group.addTask {
                _ = try await client.ws("/api/live") { inbound, outbound, _ in
                    try await outbound.write(.text(hello))
                    for try await message in inbound.messages(maxSize: 1 << 20) {
                        guard case .text(let text) = message else { continue }
                        // The beat every page gets every 2 s, the same bytes whatever anyone
                        // does, is not a message about the room; anything else is counted.
                        if text == LiveSocket.beatMessage {
                            watcher.beats.withLock { $0 += 1 }
                            continue
                        }
                        watcher.messages.withLock { $0.append(text) }
                        if watcher.done.withLock({ $0 }) { return }
                    }
                }
            }
            group.addTask {
                while watcher.count == 0 { try await Task.sleep(for: .milliseconds(10)) }
                try await body(watcher)
                watcher.done.withLock { $0 = true }
            }
            try await group.next()
            group.cancelAll()
        }
        // The socket must not have ended before the test had its say.
        #expect(watcher.done.withLock { $0 }, "the live socket ended before the test finished; it got: \(watcher.all)")
    }

    /// The room of a test: an observing phone's page and the projector, both following the
    /// live socket, and three other phones' tokens, while `body` runs.
    static func inTheRoom(
        _ fixture: HostedFixture,
        _ body: @escaping @Sendable (API, String, [String], Watcher, Watcher) async throws -> Void
    ) async throws {
        try await fixture.live { client in
            let api = API(client: client)
            let observer = try await api.join(fixture.joinCode)
            let others = [try await api.join(fixture.joinCode), try await api.join(fixture.joinCode), try await api.join(fixture.joinCode)]
            try await watching(client, hello: #"{"type":"hello","token":"\#(observer)"}"#) { page in
                try await watching(client, hello: #"{"type":"hello","screen":"\#(fixture.room.links.screenKey)"}"#) { projector in
                    try await body(api, observer, others, page, projector)
                }
            }
        }
    }

    /// What an observer's `GET /api/session` returns, as bytes: the status, every header but
    /// `Date` (which moves with the clock, not with anyone's action), and the body.
    static func observed(_ api: API, token: String) async throws -> [UInt8] {
        let (status, _, response) = try await api.call(.get, "/api/session", token: token)
        let headers = response.headers.filter { $0.name != .date }.map { "\($0.name): \($0.value)" }.sorted()
        return Array("\(status.code)\n\(headers.joined(separator: "\n"))\n".utf8) + Array(response.body.readableBytesView)
    }

    @Test(
        "When other phones write, an observing phone's responses and live messages do not change by one byte; the console counts the arrivals"
    )
    func writesAreSilent() async throws {
        let fixture = try await HostedFixture()
        try await fixture.room.session.open(prompt: 0)
        await fixture.room.changed()
        try await Self.inTheRoom(fixture) { api, observer, writers, page, projector in
            let before = try await Self.observed(api, token: observer)
            for (i, writer) in writers.enumerated() {
                let (status, _, _) = try await api.call(
                    .post, "/api/reflections", token: writer, json: #"{"prompt":0,"text":"written by phone \#(i)"}"#)
                #expect(status == .created)
                #expect(try await Self.observed(api, token: observer) == before, "the observer's response changed after write \(i + 1)")
            }
            try await Task.sleep(for: .milliseconds(300))  // time for anything that would be sent
            #expect(page.count == 1, "the observing page was sent \(page.count - 1) message(s) when others wrote: \(page.all.dropFirst())")
            #expect(projector.count == 1, "the projector was sent \(projector.count - 1) message(s) when phones wrote")
            #expect(await fixture.room.consoleView().prompts[0].pending == 3, "the console counts them")
            // A facilitator's action does reach the room (so this test can fail).
            try await fixture.room.session.reveal(prompt: 0)
            await fixture.room.changed()
            let deadline = Date().addingTimeInterval(30)
            while (page.count < 2 || projector.count < 2) && Date() < deadline { try await Task.sleep(for: .milliseconds(20)) }
            #expect(page.count == 2 && projector.count == 2)
            #expect(try await Self.observed(api, token: observer) != before)
            // The node beats meanwhile (at its cadence, the same bytes for everyone).
            while page.beats.withLock({ $0 }) == 0 && Date() < deadline { try await Task.sleep(for: .milliseconds(50)) }
            #expect(page.beats.withLock { $0 } > 0, "no beat reached the page")
        }
    }

    @Test(
        "Taps reach the room only in a batch at the cadence, never at the moment of a tap, and never a batch of fewer than the reveal minimum; the console counts at once"
    )
    func tapsAreBatched() async throws {
        let (fixture, shown) = try await Self.threeShown()
        try await Self.inTheRoom(fixture) { api, observer, tappers, page, projector in
            let before = try await Self.observed(api, token: observer)
            func tap(_ tapper: String) async throws {
                let (status, _, _) = try await api.call(
                    .post, "/api/resonance", token: tapper, json: #"{"reflection":"\#(shown[1].id.hex)"}"#)
                #expect(status == .noContent)
            }
            try await tap(tappers[0])
            try await Task.sleep(for: .milliseconds(300))
            #expect(try await Self.observed(api, token: observer) == before, "the observer saw the tap at once")
            #expect(page.count == 1 && projector.count == 1, "a page or the projector was sent the tap at once")
            #expect(await fixture.room.consoleView().prompts[0].revealed.contains { $0.resonance == 1 }, "the console counts it")
            // A tick with one new tap (fewer than the minimum of 3) publishes nothing.
            await fixture.room.publishResonance()
            try await Task.sleep(for: .milliseconds(300))
            #expect(page.count == 1 && projector.count == 1, "a batch of one tap reached the room")
            // With three, the next tick publishes them to everyone at once.
            try await tap(tappers[1])
            try await tap(tappers[2])
            await fixture.room.publishResonance()
            let deadline = Date().addingTimeInterval(30)
            while (page.count < 2 || projector.count < 2) && Date() < deadline { try await Task.sleep(for: .milliseconds(20)) }
            #expect(page.all.last?.contains(#""resonance":3"#) == true, "\(page.all)")
            #expect(projector.all.last?.contains(#""resonance":3"#) == true)
            // Nothing new to publish: the next tick sends nothing.
            await fixture.room.publishResonance()
            try await Task.sleep(for: .milliseconds(200))
            #expect(page.count == 2)
        }
    }

    @Test(
        "One phone with several tokens cannot make a batch of his taps and one other man's: a batch needs as many different addresses as the reveal minimum"
    )
    func aBatchComesFromSeveralPhones() async throws {
        let (fixture, shown) = try await Self.threeShown()
        try await withTaskExecutorPreference(DedicatedExecutor.shared) {
            try await fixture.app().test(.live) { client in
                let port = try #require(client.port)
                let code = fixture.joinCode
                // Tap from `address` with a new token each time; the statuses.
                func tap(from address: String, _ reflection: Int) async throws -> Int {
                    try await onThread {
                        let connection = try RawConnection(from: address, to: port)
                        let joined = try #require(connection.request("POST", "/api/join", json: #"{"code":"\#(code)"}"#))
                        let token = try #require(
                            (try JSONSerialization.jsonObject(with: Data(joined.body.utf8)) as? [String: Any])?["token"] as? String)
                        return connection.request(
                            "POST", "/api/resonance", json: #"{"reflection":"\#(shown[reflection].id.hex)"}"#, token: token)?.status ?? 0
                    }
                }
                // The attacker taps twice from one address (two tokens), the victim once.
                #expect(try await tap(from: "127.0.0.51", 0) == 204)
                #expect(try await tap(from: "127.0.0.51", 1) == 204)
                #expect(try await tap(from: "127.0.0.52", 2) == 204)
                await fixture.room.publishResonance()
                #expect(
                    await fixture.room.participantView().revealed.allSatisfy { $0.resonance == 0 }, "a batch of two phones reached the room"
                )
                // A third phone: now three phones have tapped, and the batch goes out.
                #expect(try await tap(from: "127.0.0.53", 2) == 204)
                await fixture.room.publishResonance()
                #expect(await fixture.room.participantView().revealed.map(\.resonance).reduce(0, +) == 4)
            }
        }
    }

    @Test("The node publishes counts by itself at its cadence (RoomService)")
    func cadenceRuns() async throws {
        let (fixture, shown) = try await Self.threeShown()
        for _ in 0..<3 { try await fixture.room.session.resonate(with: shown[0].id) }
        await fixture.room.changed()
        #expect(await fixture.room.participantView().revealed.allSatisfy { $0.resonance == 0 })
        let ticking = Task { try await RoomService(room: fixture.room, cadence: .milliseconds(200)).run() }
        defer { ticking.cancel() }
        let deadline = Date().addingTimeInterval(30)
        while await fixture.room.participantView().revealed.allSatisfy({ $0.resonance == 0 }) && Date() < deadline {
            try await Task.sleep(for: .milliseconds(50))
        }
        #expect(await fixture.room.participantView().revealed.contains { $0.resonance == 3 })
    }
    /// A hosted session whose first prompt shows three reflections.
    static func threeShown() async throws -> (HostedFixture, [SessionState.Revealed]) {
        let fixture = try await HostedFixture()
        let session = fixture.room.session
        try await session.open(prompt: 0)
        for text in ["one", "two", "three"] { _ = try await session.submitReflection(prompt: 0, text: text) }
        let shown = try await session.reveal(prompt: 0)
        await fixture.room.changed()
        return (fixture, shown)
    }
}
