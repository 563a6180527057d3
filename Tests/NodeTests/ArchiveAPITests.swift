import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import Meeting
import Testing

@testable import Node

@Suite("The archive's page and API")
struct ArchiveAPITests {
    /// A closed session of a group's week, with three revealed reflections.
    func session(_ texts: [String], group: String, in store: TranscriptStore, daysAgo: Double = 0) async throws -> LiveSession {
        let deck = try DeckParser.parse(fileAt: "seeds/decks/real-man.deck").get()
        let session = try await LiveSession.start(
            deck: deck, title: "Week of \(group)",
            programme: ProgrammePlace(title: LocalizedText([.en: "MOVE"]), group: group, week: 2, weeks: 12), in: store,
            now: Date(timeIntervalSinceNow: -daysAgo * 86_400))
        try await session.open(prompt: 0)
        for text in texts { _ = try await session.submitReflection(prompt: 0, text: text) }
        try await session.reveal(prompt: 0)
        try await session.closeSession()
        return session
    }

    func serve(_ store: TranscriptStore, _ test: @escaping @Sendable (API) async throws -> Void) async throws {
        let app = Application(router: ArchiveRoutes.router(store: store, secret: "archive-secret", pages: try Pages()))
        try await app.test(.router) { client in try await test(API(client: client)) }
    }

    @Test(
        "the archive opens only with its secret; lists a page at a time with filters (an Urdu group's name too); searches show the text as written; bad filters get a clear 400"
    )
    func listSearchAndRefuse() async throws {
        let folder = TemporaryFolder()
        let store = try TranscriptStore(folder: folder.path)
        let cedar = try await session(
            ["ہمارے گاؤں میں مرد نہیں روتا", "I learned silence.", "My father shouted."], group: "دیودار", in: store)
        _ = try await session(["one", "two", "three"], group: "Oak", in: store, daysAgo: 30)
        try await serve(store) { api in
            #expect(try await api.call(.get, "/api/archive/sessions").0 == .unauthorized)
            #expect(try await api.call(.get, "/api/archive/sessions", token: "guess").0 == .forbidden)
            let (status, page, _) = try await api.call(.get, "/api/archive/sessions?limit=1", token: "archive-secret")
            #expect(status == .ok && page["total"] as? Int == 2 && (page["entries"] as? [Any])?.count == 1)
            let group = "دیودار".addingPercentEncoding(withAllowedCharacters: .alphanumerics)!
            let (_, mine, _) = try await api.call(.get, "/api/archive/sessions?group=\(group)", token: "archive-secret")
            let entries = mine["entries"] as! [[String: Any]]
            #expect(entries.count == 1 && entries[0]["id"] as? String == cedar.id.hex && entries[0]["phones"] as? Int == 3)
            let (_, recent, _) = try await api.call(.get, "/api/archive/sessions?from=\(Self.day(-7))", token: "archive-secret")
            #expect(recent["total"] as? Int == 1)
            // Typed with Arabic yeh and kaf, found, and shown as written with the words marked.
            let query = "گاؤں ميں".addingPercentEncoding(withAllowedCharacters: .alphanumerics)!
            let (_, _, found) = try await api.call(.get, "/api/archive/search?q=\(query)", token: "archive-secret")
            let groups = try JSONSerialization.jsonObject(with: Data(found.body.readableBytesView)) as! [[String: Any]]
            let passages = groups.first?["passages"] as? [[String: Any]]
            #expect(passages?.first?["snippet"] as? String == "ہمارے «گاؤں» «میں» مرد نہیں روتا")
            for (uri, code) in [
                ("/api/archive/sessions?week=0", "bad-week"), ("/api/archive/sessions?limit=5000", "bad-limit"),
                ("/api/archive/sessions?from=yesterday", "invalid-filter"), ("/api/archive/search?q=", "invalid-search"),
                ("/api/archive/sessions/zz", "no-such-session"), ("/api/archive/report/everything.csv", "no-such-report"),
                ("/api/archive/report/sessions.csv?from=2026-02-31", "invalid-filter"),
            ] {
                let (status, body, _) = try await api.call(.get, uri, token: "archive-secret")
                #expect(status.code >= 400 && status.code < 500 && api.errorCode(body) == code, "\(uri): \(body)")
            }
        }
    }

    @Test(
        "collecting from the page: an encrypted export with its passphrase is added, without it refused; retention lists, then wipes only when confirmed"
    )
    func collectAndKeep() async throws {
        let sourceFolder = TemporaryFolder()
        let source = try TranscriptStore(folder: sourceFolder.path)
        let made = try await session(["first", "second", "third"], group: "Oak", in: source, daysAgo: 40)
        let sealed = try SealedFile.seal(Transcript(await made.state).json(), passphrase: "ghee tandoor kite river")
        let folder = TemporaryFolder()
        let store = try TranscriptStore(folder: folder.path)
        try await serve(store) { api in
            let client = api.client
            let upload = { (passphrase: String?) async throws -> [String: Any] in
                var headers: HTTPFields = [.authorization: "Bearer archive-secret"]
                if let passphrase { headers[.halqaPassphrase] = Data(passphrase.utf8).base64EncodedString() }
                let response = try await client.execute(
                    uri: "/api/archive/import?name=oak.halqa", method: .post, headers: headers, body: ByteBuffer(data: sealed))
                return try JSONSerialization.jsonObject(with: Data(response.body.readableBytesView)) as! [String: Any]
            }
            let refused = try await upload(nil)
            #expect(refused["kind"] as? String == "refused" && (refused["message"] as? String)?.contains("passphrase") == true)
            let added = try await upload("ghee tandoor kite river")
            #expect(added["kind"] as? String == "added" && added["file"] as? String == "oak.halqa", "\(added)")
            let (_, preview, _) = try await api.call(.post, "/api/archive/retention", token: "archive-secret", json: #"{"keepDays": 30}"#)
            #expect((preview["older"] as? [Any])?.count == 1 && preview["wiped"] == nil)
            #expect(try store.archive().total == 1, "a preview wipes nothing")
            let before = try #require(preview["before"] as? Int)
            // A confirmation for another list than the one shown wipes nothing.
            let (changed, refusal, _) = try await api.call(
                .post, "/api/archive/retention", token: "archive-secret",
                json: #"{"keepDays": 30, "confirm": "WIPE", "before": \#(before), "count": 2}"#)
            #expect(changed == .conflict && api.errorCode(refusal) == "list-changed")
            #expect(try store.archive().total == 1)
            let (_, done, _) = try await api.call(
                .post, "/api/archive/retention", token: "archive-secret",
                json: #"{"keepDays": 30, "confirm": "WIPE", "before": \#(before), "count": 1}"#)
            #expect(done["wiped"] as? Int == 1)
            #expect(try store.archive().total == 0 && store.keepDays() == 30)
            #expect(try folder.filesHolding("second").isEmpty)
            for json in [#"{"keepDays": -1}"#, #"{"keepDays": 30, "before": 9223372036854775807}"#] {
                let (status, body, _) = try await api.call(.post, "/api/archive/retention", token: "archive-secret", json: json)
                #expect(status == .badRequest && api.errorCode(body) == "wrong-type", "\(json)")
            }
        }
    }

    static func day(_ offset: Int) -> String {
        let date = Date(timeIntervalSinceNow: Double(offset) * 86_400)
        return String(date.formatted(.iso8601).prefix(10))
    }
}
