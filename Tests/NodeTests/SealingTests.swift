import CSodium
import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import Meeting
import Testing

@testable import Node

/// Sealed requests (docs/threat-model.md, "Sealed requests"): what a phone says is sealed to
/// the node's key and only the node opens it; every request and every answer is one size;
/// a request that is replayed, changed, cut or sealed to another key does nothing.
@Suite("Sealed requests")
struct SealingTests {
    struct Vector: Decodable {
        let nodeSecret, nodePublic, ephemeralSecret, ephemeralPublic, nonce, message, request: String
        let reply, replyMessage, viewKey, view, viewMessage: String
    }

    static func bytes(_ hex: String) -> [UInt8] {
        var out: [UInt8] = []
        var index = hex.startIndex
        while index < hex.endIndex {
            let next = hex.index(index, offsetBy: 2)
            out.append(UInt8(hex[index..<next], radix: 16)!)
            index = next
        }
        return out
    }

    @Test(
        "the node's libsodium and the page's tweetnacl agree: it opens what tweetnacl sealed, and seals the same bytes from the same keys")
    func vectors() throws {
        let data = try Data(contentsOf: URL(fileURLWithPath: "Tests/fixtures/sealing-vector.json"))
        let v = try JSONDecoder().decode(Vector.self, from: data)
        let sealing = Sealing(secretKey: Self.bytes(v.nodeSecret))
        #expect(sealing.publicKey == Self.bytes(v.nodePublic))
        let request = Self.bytes(v.request)
        #expect(request.count == Sealing.requestSize)
        let opened = try sealing.open(request)
        #expect(String(decoding: opened.plaintext, as: UTF8.self) == v.message)
        #expect(opened.ephemeralKey == Self.bytes(v.ephemeralPublic))

        // The same box from libsodium, with the same keys and nonce.
        var padded = [UInt8](repeating: 0, count: Sealing.requestPlaintext)
        let message = Array(v.message.utf8)
        padded[0] = UInt8(message.count >> 8)
        padded[1] = UInt8(message.count & 0xFF)
        padded.replaceSubrange(2..<(2 + message.count), with: message)
        var box = [UInt8](repeating: 0, count: Sealing.requestPlaintext + Sealing.macBytes)
        #expect(
            crypto_box_easy(&box, padded, UInt64(padded.count), Self.bytes(v.nonce), sealing.publicKey, Self.bytes(v.ephemeralSecret)) == 0)
        #expect(Self.bytes(v.ephemeralPublic) + Self.bytes(v.nonce) + box == request)

        // tweetnacl's answer opens with the phone's key, as the page opens the node's.
        let reply = Self.bytes(v.reply)
        try #require(reply.count == Sealing.replySize, "the vector's answer is not an answer's size: run scripts/sealing-vector.js again")
        var out = [UInt8](repeating: 0, count: Sealing.replyPlaintext)
        let replyBox = Array(reply[Sealing.nonceBytes...])
        #expect(
            crypto_box_open_easy(
                &out, replyBox, UInt64(replyBox.count), Array(reply[0..<Sealing.nonceBytes]), sealing.publicKey,
                Self.bytes(v.ephemeralSecret)) == 0)
        let length = Int(out[0]) << 8 | Int(out[1])
        #expect(String(decoding: out[2..<(2 + length)], as: UTF8.self) == v.replyMessage)

        // The room's view: secretbox, both ways.
        #expect(Sealing.open(Self.bytes(v.view), withKey: Self.bytes(v.viewKey)) == Array(v.viewMessage.utf8))
        let resealed = Sealing.seal(Array(v.viewMessage.utf8), withKey: Self.bytes(v.viewKey))
        #expect(Sealing.open(resealed, withKey: Self.bytes(v.viewKey)) == Array(v.viewMessage.utf8))
        var changed = resealed
        changed[30] ^= 1
        #expect(Sealing.open(changed, withKey: Self.bytes(v.viewKey)) == nil)
    }

    /// A request as a page seals it, and a way to open its answer.
    static func seal(_ object: [String: Any], to room: MeetingRoom) throws -> (body: [UInt8], open: @Sendable ([UInt8]) -> [UInt8]?) {
        let json = try JSONSerialization.data(withJSONObject: object)
        let sealed = Sealing.sealRequest(Array(json), to: room.sealing.publicKey)
        return (sealed.body, sealed.openReply)
    }

    static func post(_ client: any TestClientProtocol, _ body: [UInt8]) async throws -> TestResponse {
        try await client.execute(
            uri: "/api/sealed", method: .post, headers: [.contentType: "application/octet-stream"], body: ByteBuffer(bytes: body))
    }

    /// Sends a sealed request and opens the answer: (status inside, body inside, bytes on the wire).
    static func send(_ object: [String: Any], _ room: MeetingRoom, _ client: any TestClientProtocol) async throws
        -> (Int, [String: Any], Int)
    {
        let (body, open) = try seal(object, to: room)
        #expect(body.count == Sealing.requestSize, "every request is one size")
        let response = try await post(client, body)
        #expect(response.status == .ok)
        let wire = Array(response.body.readableBytesView)
        #expect(wire.count == Sealing.replySize, "every answer is one size")
        let answer = try #require(open(wire), "the answer opens with the request's key")
        let decoded = try JSONSerialization.jsonObject(with: Data(answer)) as! [String: Any]
        return (decoded["status"] as! Int, decoded["body"] as? [String: Any] ?? [:], wire.count)
    }

    @Test("a phone joins, writes and taps sealed; answers are one size whatever they say; its token never leaves a sealed box")
    func sealedMeeting() async throws {
        let fixture = try await HostedFixture(minimum: 2)
        let room = fixture.room
        try await fixture.live { client in
            let api = API(client: client)
            let (status, joined, size) = try await Self.send(["op": "join", "body": ["code": fixture.joinCode]], room, client)
            #expect(status == 201 && size == Sealing.replySize)
            let token = try #require(joined["token"] as? String)
            #expect(joined["view"] as? String == Base64URL.encode(room.viewKey))
            #expect(try await api.console(fixture.secret, "open", #"{"prompt":0}"#).0 == .ok)

            // A short reflection and a 1,000-letter Urdu one: the same size on the wire.
            let urdu = String(repeating: "غصہ ", count: 250)
            let short = try Self.seal(["op": "reflect", "token": token, "body": ["prompt": 0, "text": "Yes."]], to: room)
            let long = try Self.seal(["op": "reflect", "token": token, "body": ["prompt": 0, "text": urdu]], to: room)
            #expect(short.body.count == long.body.count)

            let (wrote, received, first) = try await Self.send(
                ["op": "reflect", "token": token, "body": ["prompt": 0, "text": "My father shouted."]], room, client)
            #expect(wrote == 201 && received["received"] as? Bool == true)
            // Refused inside (one per prompt), answered the same size as the success.
            let (again, refusal, second) = try await Self.send(
                ["op": "reflect", "token": token, "body": ["prompt": 0, "text": "Twice."]], room, client)
            #expect(again == 409 && api.errorCode(refusal) == "already-wrote" && first == second)
            let (_, mine, _) = try await Self.send(["op": "mine", "token": token], room, client)
            #expect(mine["wrote"] as? Bool == true)
            // Without a token that the node gave, nothing is done.
            let (unjoined, told, _) = try await Self.send(
                ["op": "reflect", "token": "nope", "body": ["prompt": 0, "text": "x"]], room, client)
            #expect(unjoined == 401 && api.errorCode(told) == "join-again")
            #expect(await room.session.state.pendingCount(prompt: 0) == 1)

            // Tap a revealed reflection, sealed.
            let other = try await api.join(fixture.joinCode)
            try await api.call(.post, "/api/reflections", token: other, json: #"{"prompt":0,"text":"Another man."}"#)
            #expect(try await api.console(fixture.secret, "reveal", #"{"prompt":0}"#).0 == .ok)
            let shown = await room.session.state.revealed(prompt: 0)
            let (tapped, _, _) = try await Self.send(
                ["op": "resonate", "token": token, "body": ["reflection": shown[0].id.hex]], room, client)
            #expect(tapped == 204)
            // A page that reloads learns its own taps, and another page none of them.
            let (_, tapsOfMine, _) = try await Self.send(["op": "mine", "token": token], room, client)
            #expect(tapsOfMine["resonated"] as? [String] == [shown[0].id.hex])
            let (_, tapsOfOther, _) = try await Self.send(["op": "mine", "token": other], room, client)
            #expect(tapsOfOther["resonated"] as? [String] == [])

            // The room's view, sealed with the view key, is the room's view.
            let (_, sealedView, _) = try await api.call(.get, "/api/room")
            let opened = try #require(Sealing.open(Array(Data(base64Encoded: sealedView["sealed"] as! String)!), withKey: room.viewKey))
            #expect(try JSONDecoder().decode(ParticipantView.self, from: Data(opened)) == (await room.participantView()))
        }
    }

    @Test("a replayed, changed, cut or wrongly sealed request is refused with its own error and stores nothing")
    func refusals() async throws {
        let fixture = try await HostedFixture(minimum: 2, onePerPrompt: false)
        let room = fixture.room
        try await fixture.live { client in
            let api = API(client: client)
            let (_, joined, _) = try await Self.send(["op": "join", "body": ["code": fixture.joinCode]], room, client)
            let token = joined["token"] as! String
            #expect(try await api.console(fixture.secret, "open", #"{"prompt":0}"#).0 == .ok)
            let (body, _) = try Self.seal(["op": "reflect", "token": token, "body": ["prompt": 0, "text": "Only once."]], to: room)
            #expect(try await Self.post(client, body).status == .ok)
            #expect(await room.session.state.pendingCount(prompt: 0) == 1)

            func refused(_ body: [UInt8]) async throws -> (HTTPResponse.Status, String?) {
                let response = try await Self.post(client, body)
                let object = (try? JSONSerialization.jsonObject(with: Data(response.body.readableBytesView))) as? [String: Any] ?? [:]
                return (response.status, api.errorCode(object))
            }
            // Several per prompt are allowed here: only the replay guard stops the copy, sent
            // as it was or under the same X25519 key with its ignored top bit set.
            #expect(try await refused(body) == (.conflict, "sealed-replayed"))
            var flipped = body
            flipped[31] |= 0x80
            #expect(try await refused(flipped).1 != nil)
            var changed = try Self.seal(["op": "reflect", "token": token, "body": ["prompt": 0, "text": "Changed."]], to: room).body
            changed[200] ^= 0x01
            #expect(try await refused(changed) == (.forbidden, "sealed-unopenable"))
            let cut = try Self.seal(["op": "reflect", "token": token, "body": ["prompt": 0, "text": "Cut."]], to: room).body.dropLast(1)
            #expect(try await refused(Array(cut)) == (.badRequest, "sealed-size"))
            var otherKey = [UInt8](repeating: 0, count: 32)
            randombytes_buf(&otherKey, 32)
            let json = try JSONSerialization.data(withJSONObject: [
                "op": "reflect", "token": token, "body": ["prompt": 0, "text": "Elsewhere."],
            ])
            let elsewhere = Sealing.sealRequest(Array(json), to: Sealing(secretKey: otherKey).publicKey).body
            #expect(try await refused(elsewhere) == (.forbidden, "sealed-unopenable"))
            #expect(try await refused(Array("{\"op\":\"join\"}".utf8)) == (.badRequest, "sealed-size"))
            #expect(await room.session.state.pendingCount(prompt: 0) == 1, "nothing refused was stored")
        }
    }
}
