import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import Testing

@testable import Meeting
@testable import Node

/// Check-ins through the API: one picture per phone, counts only at the one reveal.
@Suite("Check-ins through the API")
struct CheckInAPITests {
    @Test(
        "one answer per phone even where reflections are several; nothing to phones before the reveal; one reveal; wrong answers refused"
    )
    func answering() async throws {
        // The mixed opening deck starts with a faces check-in; its prompt 2 is written.
        let fixture = try await HostedFixture(onePerPrompt: false, deck: "seeds/decks/mixed-opening.deck")
        try await fixture.live { client in
            let api = API(client: client)
            #expect(try await api.console(fixture.secret, "open", #"{"prompt":0}"#).0 == .ok)
            let tokens = [try await api.join(fixture.joinCode), try await api.join(fixture.joinCode), try await api.join(fixture.joinCode)]
            let (first, _, _) = try await api.call(.post, "/api/answers", token: tokens[0], json: #"{"prompt":0,"option":4}"#)
            #expect(first == .created)
            // Reflections are several per phone here; a check-in's answers are not.
            let (again, againBody, _) = try await api.call(.post, "/api/answers", token: tokens[0], json: #"{"prompt":0,"option":0}"#)
            #expect(again == .conflict && api.errorCode(againBody) == "already-wrote")
            for (json, code) in [
                (#"{"prompt":0,"option":7}"#, "not-an-option"), (#"{"prompt":0,"option":-1}"#, "wrong-type"),
                (#"{"prompt":0}"#, "missing-field"), (#"{"prompt":0,"option":"4"}"#, "wrong-type"),
            ] {
                let (status, body, _) = try await api.call(.post, "/api/answers", token: tokens[1], json: json)
                #expect(status == .badRequest && api.errorCode(body) == code, "\(json)")
            }
            let (words, wordsBody, _) = try await api.call(
                .post, "/api/reflections", token: tokens[1], json: #"{"prompt":0,"text":"fine"}"#)
            #expect(words == .badRequest && api.errorCode(wordsBody) == "not-an-option")
            _ = try await api.call(.post, "/api/answers", token: tokens[1], json: #"{"prompt":0,"option":3}"#)
            // Two answers: no phone is told anything of them.
            let (_, before, _) = try await api.call(.get, "/api/session", token: tokens[2])
            #expect((before["state"] as? [String: Any])?["checkIn"] == nil)
            let (early, _) = try await api.console(fixture.secret, "reveal", #"{"prompt":0}"#)
            #expect(early == .conflict)
            _ = try await api.call(.post, "/api/answers", token: tokens[2], json: #"{"prompt":0,"option":3}"#)
            #expect(try await api.console(fixture.secret, "reveal", #"{"prompt":0}"#).0 == .ok)
            let (_, after, _) = try await api.call(.get, "/api/session", token: tokens[2])
            let checkIn = try #require((after["state"] as? [String: Any])?["checkIn"] as? [String: Any])
            #expect(checkIn["counts"] as? [Int] == [0, 0, 0, 2, 1])
            #expect((checkIn["chart"] as? String)?.hasPrefix("<svg") == true)
            #expect(((after["state"] as? [String: Any])?["revealed"] as? [Any])?.isEmpty == true)
            // Revealed once: no second reveal, and no more answers.
            let late = try await api.join(fixture.joinCode)
            let (lateStatus, _, _) = try await api.call(.post, "/api/answers", token: late, json: #"{"prompt":0,"option":1}"#)
            #expect(lateStatus == .conflict)
            #expect(try await api.console(fixture.secret, "reveal", #"{"prompt":0}"#).0 == .conflict)
            // A written prompt takes no picture.
            _ = try await api.console(fixture.secret, "open", #"{"prompt":1}"#)
            let (picture, pictureBody, _) = try await api.call(.post, "/api/answers", token: late, json: #"{"prompt":1,"option":1}"#)
            #expect(picture == .badRequest && api.errorCode(pictureBody) == "not-a-check-in")
        }
    }
}
