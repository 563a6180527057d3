import Foundation
import Meeting
import Testing

@Suite("Organiser commands: sessions, export, import, search")
struct OrganiserCommandTests {
    /// A closed session made through the library, in `folder`.
    func finishedSession(in folder: String) async throws -> EventID {
        let deck = try DeckParser.parse(fileAt: CLI.repository.path + "/seeds/decks/real-man.deck").get()
        let session = try await LiveSession.start(deck: deck, title: "Tuesday circle", in: TranscriptStore(folder: folder))
        try await session.open(prompt: 0)
        for text in ["میرے والد کہتے تھے کہ مرد روتا نہیں۔", "That a real man never backs down.", "My uncle said men must control the house."] {
            _ = try await session.submitReflection(prompt: 0, text: text)
        }
        try await session.reveal(prompt: 0)
        try await session.writeNote("Many named their fathers.", prompt: 0)
        try await session.closeSession()
        return session.id
    }

    @Test("sessions lists what is in the data folder, from --data, HALQA_DATA or XDG_DATA_HOME")
    func sessions() async throws {
        let home = TemporaryFolder()
        let data = home.path + "/halqa"
        let id = try await finishedSession(in: data)
        let viaFlag = try CLI.run(["sessions", "--data", data])
        #expect(viaFlag.status == 0 && viaFlag.stdout.contains(id.short) && viaFlag.stdout.contains("Tuesday circle"))
        #expect(viaFlag.stdout.contains("closed") && viaFlag.stdout.contains("1/7"))
        let viaEnv = try CLI.run(["sessions", "--json"], environment: ["HALQA_DATA": data])
        let listed = try JSONSerialization.jsonObject(with: Data(viaEnv.stdout.utf8)) as! [[String: Any]]
        #expect(listed.count == 1 && listed[0]["id"] as? String == id.hex && listed[0]["reflectionsRevealed"] as? Int == 3)
        let viaXDG = try CLI.run(["sessions"], environment: ["HALQA_DATA": "", "XDG_DATA_HOME": home.path])
        #expect(viaXDG.stdout.contains(id.short))
        let empty = try CLI.run(["sessions", "--data", home.path + "/nothing-here"])
        #expect(empty.status == 0 && empty.stdout.contains("No sessions in"))
        #expect(!FileManager.default.fileExists(atPath: home.path + "/nothing-here"), "listing must not create a data folder")
    }

    @Test("export writes Markdown or JSON; import on another node merges; both survive a round trip")
    func exportImport() async throws {
        let a = TemporaryFolder(), b = TemporaryFolder()
        let id = try await finishedSession(in: a.path)
        let markdown = try CLI.run(["export", String(id.hex.prefix(8)), "--data", a.path])
        #expect(markdown.status == 0 && markdown.stdout.hasPrefix("# Tuesday circle"))
        #expect(markdown.stdout.contains("> میرے والد کہتے تھے کہ مرد روتا نہیں۔"))
        let file = a.path + "/t.json"
        let json = try CLI.run(["export", id.hex, "--format", "json", "--output", file, "--data", a.path])
        #expect(json.status == 0 && json.stderr.contains("Wrote Tuesday circle to"))
        let imported = try CLI.run(["import", file, "--data", b.path])
        #expect(imported.status == 0 && imported.stdout.contains("Imported \"Tuesday circle\" (\(id.short))"))
        let again = try CLI.run(["import", file, "--data", b.path])
        #expect(again.stdout.contains(": 0 new events,"))
        // The file matches the documented schema (checked by a validator we did not write).
        let validator = Process()
        validator.executableURL = URL(fileURLWithPath: "/usr/bin/python3")
        validator.arguments = ["-c", "import json, sys, jsonschema; jsonschema.Draft202012Validator(json.load(open(sys.argv[1]))).validate(json.load(open(sys.argv[2])))",
                               CLI.repository.path + "/docs/transcript.schema.json", file]
        try validator.run()
        validator.waitUntilExit()
        #expect(validator.terminationStatus == 0, "the export does not match docs/transcript.schema.json (scripts/setup --test installs python3-jsonschema)")
        let file2 = b.path + "/t2.json"
        try CLI.run(["export", id.short, "--format", "json", "--output", file2, "--data", b.path])
        #expect(FileManager.default.contents(atPath: file) == FileManager.default.contents(atPath: file2))
    }

    @Test("digest is the same on the node that ran a session and on one that imported it")
    func digest() async throws {
        let a = TemporaryFolder(), b = TemporaryFolder()
        let id = try await finishedSession(in: a.path)
        let file = a.path + "/t.json"
        try CLI.run(["export", id.hex, "--format", "json", "--output", file, "--data", a.path])
        try CLI.run(["import", file, "--data", b.path])
        let here = try CLI.run(["digest", id.short, "--json", "--data", a.path])
        let there = try CLI.run(["digest", id.short, "--json", "--data", b.path])
        #expect(here.status == 0 && here.stdout == there.stdout)
        let parsed = try JSONSerialization.jsonObject(with: Data(here.stdout.utf8)) as! [String: Any]
        #expect((parsed["short"] as? String)?.range(of: #"^[A-Z2-9]{4}-[A-Z2-9]{4}$"#, options: .regularExpression) != nil)
    }

    @Test("search finds passages of closed sessions, as text or JSON")
    func search() async throws {
        let data = TemporaryFolder()
        let id = try await finishedSession(in: data.path)
        let text = try CLI.run(["search", "fathers", "--data", data.path])
        #expect(text.status == 0 && text.stdout.contains(id.short) && text.stdout.contains("[note, prompt 1] Many named their «fathers»."))
        let urdu = try CLI.run(["search", "روتا", "--json", "--data", data.path])
        let found = try JSONSerialization.jsonObject(with: Data(urdu.stdout.utf8)) as! [[String: Any]]
        #expect(found.count == 1 && (found[0]["passages"] as! [[String: Any]])[0]["kind"] as? String == "reflection")
        let nothing = try CLI.run(["search", "elephant", "--data", data.path])
        #expect(nothing.status == 0 && nothing.stdout.contains("Nothing found"))
    }

    @Test("unknown sessions, bad files and unwritable outputs get a clear error and change nothing")
    func badInput() async throws {
        let data = TemporaryFolder()
        let id = try await finishedSession(in: data.path)
        let unknown = try CLI.run(["export", "ffffffff", "--data", data.path])
        #expect(unknown.status == 1 && unknown.stderr.contains("No session here starts with \"ffffffff\". `halqa sessions` lists"))
        let short = try CLI.run(["export", "ab", "--data", data.path])
        #expect(short.status == 1 && short.stderr.contains("at least the first 4 characters"))
        let format = try CLI.run(["export", id.hex, "--format", "pdf", "--data", data.path])
        #expect(format.status != 0 && format.stderr.contains("pdf"))
        let notJSON = data.path + "/notes.txt"
        try "just some notes".write(toFile: notJSON, atomically: true, encoding: .utf8)
        let bad = try CLI.run(["import", notJSON, "--data", data.path])
        #expect(bad.status == 1 && bad.stderr.contains("not a Halqa transcript"))
        let missing = try CLI.run(["import", data.path + "/absent.json", "--data", data.path])
        #expect(missing.status == 1 && missing.stderr.contains("Cannot read"))
        let unwritable = try CLI.run(["export", id.hex, "--output", data.path + "/no/such/dir/x.md", "--data", data.path])
        #expect(unwritable.status == 1 && unwritable.stderr.contains("Cannot write"))
        let after = try CLI.run(["sessions", "--json", "--data", data.path])
        #expect((try JSONSerialization.jsonObject(with: Data(after.stdout.utf8)) as! [Any]).count == 1)
    }
}
