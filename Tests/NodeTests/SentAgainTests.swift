import Foundation
import HTTPTypes
import NIOCore
import Testing

@testable import Meeting
@testable import Node

/// A phone that heard nothing back sends again, to the same laptop or (after a move) to
/// another of the session's: with the same `once`, it is the same event and is kept once
/// (docs/replication.md, "Sent again, kept once").
@Suite("Sent again, kept once")
struct SentAgainTests {
    static let once = "AAECAwQFBgcICQoLDA0ODw"

    @Test("a reflection sent again with its once, from another page, is received and held once; other words or no once are new")
    func reflectionSentAgain() async throws {
        let fixture = try await HostedFixture()
        try await fixture.live { client in
            let api = API(client: client)
            #expect(try await api.console(fixture.secret, "open", #"{"prompt":0}"#).0 == .ok)
            let first = try await api.join(fixture.joinCode)
            let body = #"{"prompt":0,"text":"My father never said sorry.","once":"\#(SentAgainTests.once)"}"#
            let (created, _, _) = try await api.call(.post, "/api/reflections", token: first, json: body)
            #expect(created == .created)
            // The page moved and joined again (a new token): the same reflection is received again, not kept twice.
            let second = try await api.join(fixture.joinCode)
            let (again, answer, _) = try await api.call(.post, "/api/reflections", token: second, json: body)
            #expect(again == .created && answer["received"] as? Bool == true)
            #expect(await fixture.room.session.state.pendingCount(prompt: 0) == 1)
            // That page has written now: it may not write other words to this prompt.
            let (other, refusal, _) = try await api.call(
                .post, "/api/reflections", token: second, json: #"{"prompt":0,"text":"other words","once":"\#(SentAgainTests.once)"}"#)
            #expect(other == .conflict && api.errorCode(refusal) == "already-wrote")
            // Nothing the page sent is stored as it was sent: the nonce is made from it with the room key.
            let events = try fixture.store.events(of: fixture.room.session.id)
            let nonces = events.compactMap { event -> [UInt8]? in
                if case .reflectionSubmitted(_, _, let nonce) = event.body { return nonce } else { return nil }
            }
            #expect(nonces.count == 1 && nonces.first != Base64URL.decode(SentAgainTests.once))
        }
    }

    @Test("a once that is not 16 bytes of base64url is refused with what to send")
    func badOnce() async throws {
        let fixture = try await HostedFixture()
        try await fixture.live { client in
            let api = API(client: client)
            #expect(try await api.console(fixture.secret, "open", #"{"prompt":0}"#).0 == .ok)
            let token = try await api.join(fixture.joinCode)
            for bad in [#""short""#, "12", #""\#(String(repeating: "A", count: 23))""#, #""!!!!!!!!!!!!!!!!!!!!!!""#] {
                let (status, body, _) = try await api.call(
                    .post, "/api/reflections", token: token, json: #"{"prompt":0,"text":"x","once":\#(bad)}"#)
                #expect(status == .badRequest, "\(bad)")
                #expect((body["error"] as? [String: Any])?["message"] as? String ?? "" != "", "\(body)")
            }
            #expect(await fixture.room.session.state.pendingCount(prompt: 0) == 0)
        }
    }

    @Test("two sessions with the room key make the same event from the same once: byte for byte, one id")
    func sameEventOnEveryLaptop() async throws {
        let folder = TemporaryFolder()
        let store = try TranscriptStore(folder: folder.path)
        let deck = Deck(title: LocalizedText([.en: "t"]), prompts: [Prompt(text: LocalizedText([.en: "p"]))])
        let session = try await LiveSession.start(deck: deck, in: store)
        let once = Base64URL.decode(SentAgainTests.once)!
        // Another LiveSession of the same session, with the room key (as a co-facilitator's laptop holds it).
        let other = try await LiveSession.resume(session.id, in: store)
        let a = try session.reflection(prompt: 0, text: "same words", once: once).event
        let b = try other.reflection(prompt: 0, text: "same words", once: once).event
        #expect(a.body == b.body)
        // Ed25519 signatures are deterministic (RFC 8032): if the crypto library ever signs with
        // randomness, a reflection sent again to another laptop would be held twice.
        #expect(a.bytes == b.bytes && a.id == b.id)
    }

    @Test("a page of another origin (one a phone was lured to) cannot read what the node answers, nor send sealed requests unasked")
    func otherOriginsAreNotServed() async throws {
        let fixture = try await HostedFixture()
        try await fixture.live { client in
            let lure: HTTPFields = [.origin: "http://198.18.0.66:8000"]
            for path in ["/api/seal-key", "/api/room"] {
                let response = try await client.execute(uri: path, method: .get, headers: lure, body: nil)
                #expect(response.status == .ok)
                #expect(response.headers[.accessControlAllowOrigin] == nil, "\(path) lets another origin read it")
            }
            let preflight = try await client.execute(uri: "/api/sealed", method: .options, headers: lure, body: nil)
            #expect(preflight.headers[.accessControlAllowOrigin] == nil)
            // What a page elsewhere may send without asking (text/plain) is refused, and says how to send.
            let plain = try await client.execute(
                uri: "/api/sealed", method: .post, headers: [.origin: "http://198.18.0.66:8000", .contentType: "text/plain"],
                body: ByteBuffer(bytes: [UInt8](repeating: 0, count: Sealing.requestSize)))
            #expect(plain.status == .unsupportedMediaType)
            #expect(String(buffer: plain.body).contains("application/octet-stream"))
        }
    }
}
