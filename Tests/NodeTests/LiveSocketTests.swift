import Foundation
import HummingbirdTesting
import HummingbirdWSTesting
import Meeting
import Synchronization
import Testing
import WSClient

@testable import Node

/// A page that never gets what it waits for keeps hearing beats for ever: the limit fails it.
@Suite("The live socket", .serialized, .timeLimit(.minutes(1)))
struct LiveSocketTests {
    /// Connects, says hello, and returns the messages received until `until` is satisfied.
    static func follow(
        _ client: some TestClientProtocol, hello: String, until done: @escaping @Sendable ([[String: Any]]) -> Bool,
        while acting: @escaping @Sendable () async throws -> Void = {}
    ) async throws -> ([[String: Any]], WebSocketCloseFrame?) {
        let received = Mutex<[String]>([])
        let close = try await client.ws("/api/live") { inbound, outbound, _ in
            try await outbound.write(.text(hello))
            var acted = false
            for try await message in inbound.messages(maxSize: 1 << 20) {
                guard case .text(let text) = message else { continue }
                let all = received.withLock {
                    $0.append(text)
                    return $0
                }
                let parsed = all.compactMap { try? JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String: Any] }
                if done(parsed) { return }
                if !acted {
                    acted = true
                    try await acting()
                }
            }
        }
        let texts = received.withLock { $0 }
        return (texts.compactMap { try? JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String: Any] }, close)
    }

    @Test("a joined page gets the state at once, and the revealed reflections the moment they are revealed")
    func participantFollowsReveal() async throws {
        let fixture = try await HostedFixture()
        let session = fixture.room.session
        try await session.open(prompt: 0)
        for text in ["one", "two", "three"] { _ = try await session.submitReflection(prompt: 0, text: text) }
        let token = try #require(await fixture.room.registry.join())
        try await fixture.live { client in
            let (messages, _) = try await Self.follow(
                client, hello: #"{"type":"hello","token":"\#(token)"}"#,
                until: { messages in
                    messages.contains { (($0["data"] as? [String: Any])?["revealed"] as? [Any])?.count == 3 }
                },
                while: {
                    try await session.reveal(prompt: 0)
                    await fixture.room.changed()
                })
            #expect(messages.first?["type"] as? String == "state")
            #expect(((messages.first?["data"] as? [String: Any])?["revealed"] as? [Any])?.isEmpty == true)
            #expect(messages.count >= 2)
        }
    }

    /// The first prompt of the console's view, from a message of the console's socket.
    static func firstPrompt(_ message: [String: Any]) -> [String: Any]? {
        ((message["data"] as? [String: Any])?["prompts"] as? [[String: Any]])?.first
    }

    @Test("the console's socket counts a phone's reflection and tap sent through the API; a wrong or missing hello is closed with 4401")
    func consoleAndRefusals() async throws {
        let fixture = try await HostedFixture()
        let session = fixture.room.session
        try await session.open(prompt: 0)
        let token = try #require(await fixture.room.registry.join())
        try await fixture.live { client in
            let (messages, _) = try await Self.follow(
                client, hello: #"{"type":"hello","facilitator":"\#(fixture.secret)"}"#,
                until: { messages in messages.contains { Self.firstPrompt($0)?["pending"] as? Int == 1 } },
                while: {
                    try await API(client: client).call(
                        .post, "/api/reflections", token: token, json: #"{"prompt":0,"text":"arrives while watching"}"#)
                })
            #expect(messages.first?["type"] as? String == "console")
            #expect(!messages.contains { String(describing: $0).contains("arrives while watching") })

            // Revealed, then tapped by a phone: the console's count moves (the room's waits for a batch).
            for text in ["two", "three"] { _ = try await session.submitReflection(prompt: 0, text: text) }
            try await session.reveal(prompt: 0)
            let shown = await session.state.revealed(prompt: 0)[0].id.hex
            let (tapped, _) = try await Self.follow(
                client, hello: #"{"type":"hello","facilitator":"\#(fixture.secret)"}"#,
                until: { messages in
                    messages.contains { message in
                        (Self.firstPrompt(message)?["revealed"] as? [[String: Any]])?.contains {
                            $0["id"] as? String == shown && $0["resonance"] as? Int == 1
                        } == true
                    }
                },
                while: {
                    try await API(client: client).call(.post, "/api/resonance", token: token, json: #"{"reflection":"\#(shown)"}"#)
                })
            #expect(tapped.count >= 2)
            for hello in [#"{"type":"hello","token":"forged"}"#, #"{"type":"hello","facilitator":"\#(fixture.joinCode)"}"#, "not json"] {
                let (got, close) = try await Self.follow(client, hello: hello, until: { _ in false })
                #expect(got.isEmpty, "\(hello)")
                #expect(close?.closeCode == .unknown(4401), "\(hello)")
            }
        }
        #expect(await fixture.room.subscriberCount == 0, "closed sockets must let go of their subscriptions")
    }
}
