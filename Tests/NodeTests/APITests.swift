import CompressNIO
import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import Meeting
import Synchronization
import Testing

@testable import Node

@Suite("The node's HTTP API", .serialized)
struct APITests {
    @Test("pages and assets are served by the node, as UTF-8, with a policy that forbids inline and outside scripts")
    func pages() async throws {
        let fixture = try await HostedFixture()
        try await fixture.live { client in
            let api = API(client: client)
            for path in ["/", "/facilitate", "/screen"] {
                let (status, _, response) = try await api.call(.get, path)
                #expect(status == .ok)
                #expect(response.headers[.contentType] == "text/html; charset=utf-8")
                let csp = try #require(response.headers[HTTPField.Name("Content-Security-Policy")!])
                #expect(csp.contains("script-src 'self'") && !csp.contains("unsafe-inline") && csp.contains("default-src 'none'"))
                let html = String(buffer: response.body)
                #expect(html.contains("<meta charset=\"utf-8\">"))
                // Every script is a file of the node's own; none is inline, none from elsewhere.
                let scripts = html.components(separatedBy: "<script").dropFirst()
                #expect(!scripts.isEmpty && scripts.allSatisfy { $0.hasPrefix(" src=\"/assets/") && $0.contains("></script>") })
                #expect(!html.contains("http://") && !html.contains("https://"))
            }
            let (js, _, script) = try await api.call(.get, "/assets/participant.js")
            #expect(js == .ok && script.headers[.contentType] == "text/javascript; charset=utf-8")
            #expect(script.headers[.contentEncoding] == nil, "gzipped for a client that did not ask")
            // A browser that takes gzip (every phone's) is sent the same bytes gzipped, half
            // of the size or less; one that refuses it (q=0) is not.
            for path in ["/", "/assets/participant.js", "/assets/nacl-fast.min.js"] {
                let gzipped = try await client.execute(uri: path, method: .get, headers: [.acceptEncoding: "gzip, deflate"])
                let plain = try await client.execute(uri: path, method: .get, headers: [.acceptEncoding: "br, gzip;q=0"])
                #expect(gzipped.headers[.contentEncoding] == "gzip" && plain.headers[.contentEncoding] == nil)
                #expect(gzipped.headers[.vary] == "Accept-Encoding")
                var packed = gzipped.body
                let unpacked = try packed.decompress(with: .gzip())
                #expect(unpacked == plain.body, "\(path) gzipped is not the same page")
                #expect(
                    gzipped.body.readableBytes * 2 <= plain.body.readableBytes,
                    "\(path): \(gzipped.body.readableBytes) of \(plain.body.readableBytes) bytes")
            }
            let (missing, body, _) = try await api.call(.get, "/assets/nothing.js")
            #expect(missing == .notFound && api.errorCode(body) == "no-such-endpoint")
        }
    }

    @Test("a wrong join code gets 403 in plain words; the right one, typed any way, gets a token")
    func joining() async throws {
        let fixture = try await HostedFixture()
        try await fixture.live { client in
            let api = API(client: client)
            let (wrong, body, _) = try await api.call(.post, "/api/join", json: #"{"code":"AAAA-AAAA"}"#)
            #expect(wrong == .forbidden && api.errorCode(body) == "wrong-code")
            #expect(
                (body["error"] as? [String: Any])?["message"] as? String
                    == "That join code is not right. Check it with the facilitator and try again.")
            let typed = AccessCodes.display(fixture.joinCode).lowercased().replacingOccurrences(of: "-", with: " ")
            let (ok, joined, _) = try await api.call(.post, "/api/join", json: #"{"code":"\#(typed)"}"#)
            #expect(ok == .created && (joined["token"] as? String)?.count == 26)
            #expect(
                (joined["state"] as? [String: Any]).flatMap { $0["session"] as? [String: Any] }?["title"] as? String == "Tuesday circle")
        }
    }

    @Test("guessing is throttled: after 5 wrong codes even the right one waits, with 429")
    func throttling() async throws {
        let fixture = try await HostedFixture()
        try await fixture.live { client in
            let api = API(client: client)
            for _ in 0..<5 {
                let (status, _, _) = try await api.call(.post, "/api/join", json: #"{"code":"ZZZZZZZZ"}"#)
                #expect(status == .forbidden)
            }
            let (throttled, body, _) = try await api.call(.post, "/api/join", json: #"{"code":"\#(fixture.joinCode)"}"#)
            #expect(throttled == .tooManyRequests && api.errorCode(body) == "throttled")
            // The facilitator's secret is guarded by the same limit.
            let (console, _, _) = try await api.call(.get, "/api/console", token: fixture.secret)
            #expect(console == .tooManyRequests)
        }
    }

    @Test("a participant writes one reflection to the open prompt, acknowledged once it is stored")
    func submitting() async throws {
        let fixture = try await HostedFixture()
        try await fixture.live { client in
            let api = API(client: client)
            let token = try await api.join(fixture.joinCode)
            let (notOpen, closedBody, _) = try await api.call(
                .post, "/api/reflections", token: token, json: #"{"prompt":0,"text":"early"}"#)
            #expect(notOpen == .conflict && api.errorCode(closedBody) == "prompt-not-open")
            #expect(try await api.console(fixture.secret, "open", #"{"prompt":0}"#).0 == .ok)
            let (created, body, _) = try await api.call(
                .post, "/api/reflections", token: token, json: #"{"prompt":0,"text":"میرے والد خاموش رہتے تھے۔"}"#)
            #expect(created == .created && body["received"] as? Bool == true)
            #expect(await fixture.room.session.state.pendingCount(prompt: 0) == 1)
            let stored = try fixture.store.events(of: fixture.room.session.id).contains {
                if case .reflectionSubmitted(_, let text, _) = $0.body { return text == "میرے والد خاموش رہتے تھے۔" } else { return false }
            }
            #expect(stored)
            let (second, again, _) = try await api.call(.post, "/api/reflections", token: token, json: #"{"prompt":0,"text":"twice"}"#)
            #expect(second == .conflict && api.errorCode(again) == "already-wrote")
            let (session, view, _) = try await api.call(.get, "/api/session", token: token)
            #expect(session == .ok && view["wrote"] as? Bool == true)
            // JSON as any script may write it: spaced out, fields in another order, letters escaped,
            // a whole number written with a fraction (JSON Schema's "integer" allows it).
            let other = try await api.join(fixture.joinCode)
            let (spaced, _, _) = try await api.call(
                .post, "/api/reflections", token: other,
                json: "{\n  \"text\": \"\\u0645\\u06cc\\u06ba \\/ \\uD83C\\uDF31\",\r\n  \"prompt\" : 0.0\n}\n")
            #expect(spaced == .created)
            let escaped = try fixture.store.events(of: fixture.room.session.id).contains {
                if case .reflectionSubmitted(_, let text, _) = $0.body { return text == "میں / 🌱" } else { return false }
            }
            #expect(escaped)
        }
    }

    @Test("bad requests get a 4xx with a message, and change nothing stored")
    func badInput() async throws {
        let fixture = try await HostedFixture()
        try await fixture.live { client in
            let api = API(client: client)
            let token = try await api.join(fixture.joinCode)
            _ = try await api.console(fixture.secret, "open", #"{"prompt":0}"#)
            let before = try fixture.store.events(of: fixture.room.session.id).count
            let long = String(repeating: "ز", count: 1001)
            let cases: [(String, String?, [UInt8]?, HTTPResponse.Status, String)] = [
                ("invalid JSON", "{\"prompt\":0,", nil, .badRequest, "invalid-json"),
                ("not an object", "[1,2]", nil, .badRequest, "invalid-json"),
                ("null field", #"{"prompt":null,"text":"hi"}"#, nil, .badRequest, "wrong-type"),
                ("repeated field", #"{"prompt":0,"text":"hi","text":"ho"}"#, nil, .badRequest, "invalid-json"),
                ("a fraction", #"{"prompt":0.5,"text":"hi"}"#, nil, .badRequest, "invalid-json"),
                (
                    "invalid UTF-8", nil, Array(#"{"prompt":0,"text":"a"#.utf8) + [0xC3, 0x28] + Array(#""}"#.utf8), .badRequest,
                    "invalid-utf8"
                ),
                ("unknown field", #"{"prompt":0,"text":"hi","name":"Rahim"}"#, nil, .badRequest, "unknown-field"),
                ("missing field", #"{"text":"hi"}"#, nil, .badRequest, "missing-field"),
                ("wrong type", #"{"prompt":"0","text":"hi"}"#, nil, .badRequest, "wrong-type"),
                ("empty", #"{"prompt":0,"text":"   "}"#, nil, .badRequest, "empty-text"),
                ("too long", #"{"prompt":0,"text":"\#(long)"}"#, nil, .badRequest, "text-too-long"),
                ("control character", #"{"prompt":0,"text":"a\u0007b"}"#, nil, .badRequest, "control-characters"),
                ("no such prompt", #"{"prompt":99,"text":"hi"}"#, nil, .notFound, "no-such-prompt"),
                ("not the open prompt", #"{"prompt":1,"text":"hi"}"#, nil, .conflict, "prompt-not-open"),
                ("oversized body", #"{"prompt":0,"text":"\#(String(repeating: "a", count: 20_000))"}"#, nil, .contentTooLarge, "too-large"),
            ]
            for (what, json, bytes, status, code) in cases {
                let (got, body, _) = try await api.call(.post, "/api/reflections", token: token, json: json, bytes: bytes)
                #expect(got == status, "\(what)")
                #expect(api.errorCode(body) == code, "\(what)")
                #expect(((body["error"] as? [String: Any])?["message"] as? String)?.isEmpty == false, "\(what)")
            }
            let (noToken, unauthorised, _) = try await api.call(.post, "/api/reflections", json: #"{"prompt":0,"text":"hi"}"#)
            #expect(noToken == .unauthorized && api.errorCode(unauthorised) == "join-again")
            let (badToken, _, _) = try await api.call(.get, "/api/session", token: "not-a-token")
            #expect(badToken == .unauthorized)
            let (unknown, notFound, _) = try await api.call(.get, "/api/nothing")
            #expect(unknown == .notFound && api.errorCode(notFound) == "no-such-endpoint")
            #expect(try fixture.store.events(of: fixture.room.session.id).count == before)
            // After all of that, this participant may still write their one reflection.
            let (created, _, _) = try await api.call(.post, "/api/reflections", token: token, json: #"{"prompt":0,"text":"still here"}"#)
            #expect(created == .created)
        }
    }

    @Test("the console needs the facilitator's secret; a join code or participant token does not open it")
    func consoleAccess() async throws {
        let fixture = try await HostedFixture()
        try await fixture.live { client in
            let api = API(client: client)
            let token = try await api.join(fixture.joinCode)
            let (missing, missingBody, _) = try await api.call(.get, "/api/console")
            #expect(missing == .unauthorized && api.errorCode(missingBody) == "no-secret")
            // Which actions exist is told only to someone holding the secret.
            let (unknownAction, _, _) = try await api.call(.post, "/api/console/dance", token: token, json: "{}")
            #expect(unknownAction == .forbidden)
            for key in [fixture.joinCode, token] {
                let (status, body, _) = try await api.call(.get, "/api/console", token: key)
                #expect(status == .forbidden && api.errorCode(body) == "wrong-secret")
            }
            let (screen, _, _) = try await api.call(.get, "/api/screen", token: token)
            #expect(screen == .forbidden)
            let (ok, console, _) = try await api.call(.get, "/api/console", token: fixture.secret)
            #expect(ok == .ok && console["joinCode"] as? String == AccessCodes.display(fixture.joinCode))
            let (shown, view, _) = try await api.call(.get, "/api/screen", token: fixture.room.links.screenKey)
            #expect(shown == .ok && (view["qr"] as? [String: Any])?["size"] as? Int ?? 0 > 20)
        }
    }

    /// Threat: anyone who reads the projector's link (it is on a laptop or TV facing the room,
    /// often opened on a borrowed machine), or who walks up to the projector.
    @Test(
        "The projector's link carries a key of its own: it shows the room's view and can never open, reveal, hide, write, admit, close or wipe"
    )
    func projectorCannotAct() async throws {
        let fixture = try await HostedFixture()
        let session = fixture.room.session
        try await session.open(prompt: 0)
        for text in ["one", "two", "three"] { _ = try await session.submitReflection(prompt: 0, text: text) }
        let shown = try await session.reveal(prompt: 0)
        try await fixture.live { client in
            let api = API(client: client)
            // The key the console hands out for the projector, as a facilitator would copy it.
            let (_, console, _) = try await api.call(.get, "/api/console", token: fixture.secret)
            let link = try #require(console["screenURL"] as? String)
            #expect(!link.contains(fixture.secret), "the projector's link holds the facilitator's secret")
            let key = try #require(link.components(separatedBy: "#key=").last)
            let (ok, _, _) = try await api.call(.get, "/api/screen", token: key)
            #expect(ok == .ok)
            let actions: [(String, String)] = [
                ("open", #"{"prompt":1}"#), ("close-prompt", #"{"prompt":0}"#), ("reveal", #"{"prompt":0}"#),
                ("hide", #"{"reflection":"\#(shown[0].id.hex)","reason":"x"}"#), ("note", #"{"text":"from the projector"}"#),
                ("close", "{}"), ("admit", #"{"node":"x","role":"archivist"}"#), ("wipe", #"{"confirm":"WIPE"}"#),
            ]
            // Refused as a wrong secret (after five, the address is also slowed down: 429).
            for (action, body) in actions {
                let (status, answer) = try await api.console(key, action, body)
                #expect(
                    (status == .forbidden && api.errorCode(answer) == "wrong-secret")
                        || (status == .tooManyRequests && api.errorCode(answer) == "throttled"),
                    "\(action) with the projector's key: \(status)")
            }
            let (consoleStatus, _, _) = try await api.call(.get, "/api/console", token: key)
            #expect(consoleStatus == .forbidden || consoleStatus == .tooManyRequests)
            let (_, refused) = try await LiveSocketTests.follow(
                client, hello: #"{"type":"hello","facilitator":"\#(key)"}"#, until: { _ in false })
            #expect(refused?.closeCode == .unknown(4401), "the projector's key opened the console's socket")
        }
        let state = await session.state
        #expect(state.openPrompt == 0 && !state.isClosed && state.notes.isEmpty && state.hiddenReasons.isEmpty)
        #expect(await !fixture.room.wasWiped)
    }

    @Test("the console counts waiting reflections but never shows their text before the reveal")
    func facilitatorActions() async throws {
        let fixture = try await HostedFixture()
        try await fixture.live { client in
            let api = API(client: client)
            let secret = fixture.secret
            _ = try await api.console(secret, "open", #"{"prompt":0}"#)
            let texts = ["<img src=x onerror=alert(1)>", "my father shouted", "I was afraid"]
            for text in texts.prefix(2) {
                let token = try await api.join(fixture.joinCode)
                try await api.call(
                    .post, "/api/reflections", token: token,
                    json: try String(decoding: JSONSerialization.data(withJSONObject: ["prompt": 0, "text": text]), as: UTF8.self))
            }
            let (_, console, raw) = try await api.call(.get, "/api/console", token: secret)
            #expect(((console["prompts"] as? [[String: Any]])?[0]["pending"] as? Int) == 2)
            #expect(!String(buffer: raw.body).contains("my father shouted"))
            let (few, fewBody) = try await api.console(secret, "reveal", #"{"prompt":0}"#)
            #expect(few == .conflict && api.errorCode(fewBody) == "too-few-to-reveal")
            let token = try await api.join(fixture.joinCode)
            try await api.call(.post, "/api/reflections", token: token, json: #"{"prompt":0,"text":"I was afraid"}"#)
            let (revealed, after) = try await api.console(secret, "reveal", #"{"prompt":0}"#)
            #expect(revealed == .ok)
            let shown = ((after["prompts"] as? [[String: Any]])?[0]["revealed"] as? [[String: Any]]) ?? []
            #expect(Set(shown.compactMap { $0["text"] as? String }) == Set(texts))
            // Participants see them too; HTML stays a string, for the page to show as text.
            let (_, view, _) = try await api.call(.get, "/api/session", token: token)
            let seen = ((view["state"] as? [String: Any])?["revealed"] as? [[String: Any]]) ?? []
            #expect(seen.contains { $0["text"] as? String == "<img src=x onerror=alert(1)>" })
            // Resonate once; a second time is refused.
            let id = try #require(seen.first { $0["text"] as? String == "I was afraid" }?["id"] as? String)
            let (resonated, _, _) = try await api.call(.post, "/api/resonance", token: token, json: #"{"reflection":"\#(id)"}"#)
            #expect(resonated == .noContent)
            let (twice, twiceBody, _) = try await api.call(.post, "/api/resonance", token: token, json: #"{"reflection":"\#(id)"}"#)
            #expect(twice == .conflict && api.errorCode(twiceBody) == "already-resonated")
            // Hide, note, close prompt, close session.
            let hideID = try #require(shown.first { $0["text"] as? String == "my father shouted" }?["id"] as? String)
            #expect(try await api.console(secret, "hide", #"{"reflection":"\#(hideID)","reason":"names a relative"}"#).0 == .ok)
            let (_, afterHide, _) = try await api.call(.get, "/api/session", token: token)
            #expect(
                !(((afterHide["state"] as? [String: Any])?["revealed"] as? [[String: Any]]) ?? []).contains {
                    $0["id"] as? String == hideID
                })
            #expect(try await api.console(secret, "note", #"{"text":"Long silence.","prompt":0}"#).0 == .ok)
            #expect(try await api.console(secret, "close-prompt", #"{"prompt":0}"#).0 == .ok)
            let (reopen, reopenBody) = try await api.console(secret, "open", #"{"prompt":0}"#)
            #expect(reopen == .conflict && api.errorCode(reopenBody) == "prompt-already-opened")
            let (noPrompt, noPromptBody) = try await api.console(secret, "open", #"{"prompt":42}"#)
            #expect(noPrompt == .notFound && api.errorCode(noPromptBody) == "no-such-prompt")
            let (unknown, _) = try await api.console(secret, "dance", "{}")
            #expect(unknown == .notFound)
            #expect(try await api.console(secret, "close", "{}").0 == .ok)
            let (late, lateBody) = try await api.console(secret, "note", #"{"text":"too late"}"#)
            #expect(late == .conflict && api.errorCode(lateBody) == "session-closed")
            #expect(await fixture.room.session.state.isClosed)
        }
    }

    @Test("the node's log holds no address, token, code, secret or reflection text")
    func logsHoldNothingIdentifying() async throws {
        let fixture = try await HostedFixture()
        let token = try await fixture.live { client in
            let api = API(client: client)
            _ = try await api.call(.post, "/api/join", json: #"{"code":"WRONGCODE"}"#)
            let token = try await api.join(fixture.joinCode)
            _ = try await api.console(fixture.secret, "open", #"{"prompt":0}"#)
            _ = try await api.call(.post, "/api/reflections", token: token, json: #"{"prompt":0,"text":"secret words here"}"#)
            _ = try await api.call(.post, "/api/reflections", token: token, json: "{broken")
            return token
        }
        let log = fixture.logs.text
        #expect(log.contains("Server started"), "the test must see the node's real log")
        for needle in ["127.0.0.1", token, fixture.joinCode, fixture.secret, "secret words", "WRONGCODE"] {
            #expect(!log.contains(needle), "the log holds \(needle)")
        }
    }
    @Test("the console's wipe needs WIPE typed; then the session is gone from the store and nothing more is written for it")
    func wipeFromTheConsole() async throws {
        let fixture = try await HostedFixture()
        let stopped = Mutex(false)
        await fixture.room.whenWiped { stopped.withLock { $0 = true } }
        try await fixture.live { client in
            let api = API(client: client)
            let token = try await api.join(fixture.joinCode)
            #expect(try await api.console(fixture.secret, "open", #"{"prompt":0}"#).0 == .ok)
            _ = try await api.call(.post, "/api/reflections", token: token, json: #"{"prompt":0,"text":"gone soon"}"#)
            let (unconfirmed, body, _) = try await api.call(.post, "/api/console/wipe", token: fixture.secret, json: #"{"confirm":"yes"}"#)
            #expect(unconfirmed == .badRequest && api.errorCode(body) == "not-confirmed")
            #expect(try fixture.store.sessionIDs() == [fixture.room.session.id], "nothing wiped without WIPE")
            let (denied, _, _) = try await api.call(.post, "/api/console/wipe", token: token, json: #"{"confirm":"WIPE"}"#)
            #expect(denied == .forbidden, "a participant's token cannot wipe")
            let (done, wiped, _) = try await api.call(.post, "/api/console/wipe", token: fixture.secret, json: #"{"confirm":"WIPE"}"#)
            #expect(done == .ok && wiped["wiped"] as? Bool == true && wiped["reflections"] as? Int == 1)
            #expect(try fixture.store.sessionIDs().isEmpty)
            #expect(stopped.withLock { $0 }, "the node is told to stop")
            let (late, lateBody, _) = try await api.call(.post, "/api/console/note", token: fixture.secret, json: #"{"text":"after"}"#)
            #expect(late == .conflict && api.errorCode(lateBody) == "wiped")
            #expect(try fixture.store.sessionIDs().isEmpty, "nothing written after the wipe brings the session back")
        }
    }

}

extension String {
    init(buffer: ByteBuffer) { self = String(decoding: buffer.readableBytesView, as: UTF8.self) }
}
