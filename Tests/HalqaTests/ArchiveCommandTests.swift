import Foundation
import Meeting
import Testing

@Suite("The organiser's archive: collecting, reports, retention")
struct ArchiveCommandTests {
    /// A closed session of `texts` (three or more) in `folder`, created `daysAgo` days ago.
    func session(_ title: String, _ texts: [String], in folder: String, daysAgo: Double = 0, group: String? = nil) async throws -> EventID {
        let deck = try DeckParser.parse(fileAt: CLI.repository.path + "/seeds/decks/real-man.deck").get()
        let session = try await LiveSession.start(
            deck: deck, title: title,
            programme: group.map { ProgrammePlace(title: LocalizedText([.en: "MOVE"]), group: $0, week: 3, weeks: 12) },
            in: TranscriptStore(folder: folder), now: Date(timeIntervalSinceNow: -daysAgo * 86_400))
        try await session.open(prompt: 0)
        for text in texts { _ = try await session.submitReflection(prompt: 0, text: text) }
        let shown = try await session.reveal(prompt: 0)
        if let named = shown.first(where: { $0.text.contains("Rahim") }) { try await session.hide(named.id, reason: "names a person") }
        try await session.closeSession()
        return session.id
    }

    func export(_ id: EventID, from folder: String, to file: String, passphrase: String? = nil) throws {
        let sealed = passphrase.map { ["--encrypt", "--passphrase-file", $0] } ?? []
        let result = try CLI.run(["export", id.hex, "--format", "json", "--output", file, "--data", folder] + sealed)
        #expect(result.status == 0, "\(result.stderr)")
    }

    @Test(
        "archive import collects a stick: plain and encrypted exports with one passphrase, an altered one, a duplicate, a Markdown export, a photo; a line per file, the right counts, nothing of a refused file kept"
    )
    func collectAStick() async throws {
        let source = TemporaryFolder()
        let archive = TemporaryFolder()
        let usb = source.path + "/usb"
        try FileManager.default.createDirectory(atPath: usb + "/week-4/.Trashes", withIntermediateDirectories: true)
        let a = try await session(
            "Tuesday circle", ["Anger came first.", "I learned silence.", "My father shouted."], in: source.path + "/a")
        let b = try await session(
            "منگل کا حلقہ", ["میرے والد کہتے تھے", "زما پلار به چیغې وهلې", "Nobody asked me."], in: source.path + "/b")
        let c = try await session("Never stored", ["unmistakable-altered-text", "second", "third"], in: source.path + "/c")
        let d = try await session("Other passphrase", ["fourth", "fifth", "sixth"], in: source.path + "/d")
        try "ghee tandoor kite river\n".write(toFile: source.path + "/pass", atomically: true, encoding: .utf8)
        try "another long passphrase\n".write(toFile: source.path + "/other", atomically: true, encoding: .utf8)
        try export(a, from: source.path + "/a", to: usb + "/a.json")
        try export(a, from: source.path + "/a", to: usb + "/week-4/copy-of-a.json")
        try export(b, from: source.path + "/b", to: usb + "/week-4/b.halqa", passphrase: source.path + "/pass")
        try export(d, from: source.path + "/d", to: usb + "/d.halqa", passphrase: source.path + "/other")
        try export(c, from: source.path + "/c", to: source.path + "/c.json")
        // One event's text changed: its id and signature no longer match.
        let plain = try String(contentsOfFile: source.path + "/c.json", encoding: .utf8)
        let transcript = try JSONSerialization.jsonObject(with: Data(plain.utf8)) as! [String: Any]
        var events = transcript["events"] as! [String]
        let i = try #require(events.firstIndex { String(decoding: Data(base64Encoded: $0)!, as: UTF8.self).contains("unmistakable") })
        events[i] = Data(
            String(decoding: Data(base64Encoded: events[i])!, as: UTF8.self).replacingOccurrences(of: "altered", with: "changed").utf8
        )
        .base64EncodedString()
        var altered = transcript
        altered["events"] = events
        try JSONSerialization.data(withJSONObject: altered).write(to: URL(fileURLWithPath: usb + "/c-altered.json"))
        let markdown = try CLI.run(["export", a.hex, "--data", source.path + "/a"])
        try markdown.stdout.write(toFile: usb + "/a.md", atomically: true, encoding: .utf8)
        try Data([0xFF, 0xD8, 0xFF, 0xE0]).write(to: URL(fileURLWithPath: usb + "/photo.jpg"))
        try export(c, from: source.path + "/c", to: usb + "/week-4/.Trashes/c.json")

        let collected = try CLI.run(["archive", "import", "--data", archive.path, "--passphrase-file", source.path + "/pass", usb])
        #expect(collected.status == 1, "a refused file makes the command fail after the rest are in")
        let lines = collected.stdout.split(separator: "\n").map(String.init)
        func line(_ file: String) -> String { lines.first { $0.contains(usb + "/" + file + ":") } ?? "(no line for \(file))" }
        #expect(line("a.json").hasPrefix("  added") && line("a.json").contains("Tuesday circle"))
        #expect(line("week-4/copy-of-a.json").hasPrefix("  already-here"))
        #expect(line("week-4/b.halqa").hasPrefix("  added") && line("week-4/b.halqa").contains("منگل کا حلقہ"))
        #expect(line("c-altered.json").hasPrefix("  refused"), "\(line("c-altered.json"))")
        #expect(line("d.halqa").hasPrefix("  refused") && line("d.halqa").contains("passphrase"), "\(line("d.halqa"))")
        #expect(line("a.md").hasPrefix("  skipped") && line("a.md").contains("Markdown"))
        #expect(line("photo.jpg").hasPrefix("  skipped"))
        #expect(!collected.stdout.contains(".Trashes"), "hidden folders are not looked in")
        #expect(collected.stdout.contains("7 files: 2 added, 0 merged, 1 already here, 2 refused, 2 skipped."), "\(collected.stdout)")
        // Nothing of the altered file, nor of the one with another passphrase, is kept.
        let listed = try CLI.run(["sessions", "--json", "--data", archive.path])
        let ids = (try JSONSerialization.jsonObject(with: Data(listed.stdout.utf8)) as! [[String: Any]]).map { $0["id"] as! String }
        #expect(Set(ids) == [a.hex, b.hex])
        #expect(try archive.filesHolding("unmistakable").isEmpty && archive.filesHolding("Never stored").isEmpty)

        // A second collection of the same stick adds nothing; a folder that is not there is named.
        let again = try CLI.run(["archive", "import", "--json", "--data", archive.path, "--passphrase-file", source.path + "/pass", usb])
        let outcomes = try JSONSerialization.jsonObject(with: Data(again.stdout.utf8)) as! [[String: Any]]
        #expect(outcomes.filter { $0["kind"] as? String == "already-here" }.count == 3)
        let missing = try CLI.run(["archive", "import", "--data", archive.path, source.path + "/no-such-stick"])
        #expect(missing.status == 1 && missing.stderr.contains("does not exist"), "\(missing.stderr)")
    }

    @Test(
        "archive report writes three CSV tables with a byte-order mark: a row per session, check-in and shown reflection, formulas defused, Urdu intact, hidden reflections left out, filters applied"
    )
    func report() async throws {
        let folder = TemporaryFolder()
        let texts = [
            "=HYPERLINK(\"http://x\",\"click\")", "میرے والد، کہتے تھے \"مرد\"\nروتا نہیں", "A man named Rahim hurt me.", "-1 for anger",
        ]
        let cedar = try await session("Cedar week 3", texts, in: folder.path, group: "Cedar")
        let other = try await session("Another group", ["one", "two", "three"], in: folder.path, group: "Oak")
        let out = folder.path + "/report"
        let made = try CLI.run(["archive", "report", "--format", "csv", "--data", folder.path, "--out", out])
        #expect(made.status == 0 && made.stdout.contains("reflections.csv: 6 rows"), "\(made.stdout)\(made.stderr)")
        let reflections = try #require(FileManager.default.contents(atPath: out + "/reflections.csv"))
        #expect(reflections.starts(with: [0xEF, 0xBB, 0xBF]))
        let text = String(decoding: reflections.dropFirst(3), as: UTF8.self)
        #expect(text.hasPrefix("reflection_id,session_id,prompt_id,prompt_number,language,text,resonance\r\n"))
        #expect(text.contains(",\"'=HYPERLINK(\"\"http://x\"\",\"\"click\"\")\","), "a formula is defused and quoted")
        #expect(text.contains(",'-1 for anger,"))
        #expect(text.contains("\"میرے والد، کہتے تھے \"\"مرد\"\"\nروتا نہیں\""), "Urdu with its comma, quotes and line break intact")
        #expect(!text.contains("Rahim"), "a hidden reflection is not reported")
        #expect(text.contains("\(cedar.hex)-1,1,en,"))
        let sessions = String(
            decoding: try #require(FileManager.default.contents(atPath: out + "/sessions.csv")).dropFirst(3), as: UTF8.self)
        let row = try #require(sessions.split(separator: "\r\n").first { $0.hasPrefix(cedar.hex) })
        #expect(row.contains(",Cedar,MOVE,3,12,") && row.hasSuffix(",en,4,8,1,3,0,1:3;2:0;3:0;4:0;5:0;6:0;7:0;8:0"), "\(row)")
        // Only Oak's session, with --group.
        let oak = try CLI.run(["archive", "report", "--data", folder.path, "--out", out, "--group", "Oak"])
        #expect(oak.stdout.contains("sessions.csv: 1 row."))
        let only = String(decoding: try #require(FileManager.default.contents(atPath: out + "/sessions.csv")), as: UTF8.self)
        #expect(only.contains(other.hex) && !only.contains(cedar.hex))
        let bad = try CLI.run(["archive", "report", "--data", folder.path, "--out", out, "--from", "last week"])
        #expect(bad.status == 1 && bad.stderr.contains("YYYY-MM-DD"), "\(bad.stderr)")
    }

    @Test(
        "archive --keep-days lists the older sessions and wipes them only when confirmed; afterwards no byte of their text is in the data folder, and the setting holds at the next start"
    )
    func retention() async throws {
        let folder = TemporaryFolder()
        let old = ["an-old-reflection-one", "an-old-reflection-two", "an-old-reflection-three"]
        let kept = ["a-new-reflection-one", "a-new-reflection-two", "a-new-reflection-three"]
        _ = try await session("Old circle", old, in: folder.path, daysAgo: 40)
        let recent = try await session("New circle", kept, in: folder.path, daysAgo: 2)
        func serve(_ arguments: [String]) throws -> CLI.Result {
            // It serves once the retention is done: stopped after a few seconds, as Ctrl-C would.
            try CLI.execute(
                URL(fileURLWithPath: "/usr/bin/timeout"),
                ["-s", "INT", "8", CLI.binaries.appendingPathComponent("halqa").path, "archive", "--data", folder.path, "--port", "0"]
                    + arguments)
        }
        // With no one at a terminal to type WIPE and no --yes: listed, not wiped, and the archive opens.
        let unconfirmed = try serve(["--keep-days", "30"])
        #expect(unconfirmed.stdout.contains("1 session is older") && unconfirmed.stdout.contains("Old circle"))
        #expect(unconfirmed.stdout.contains("Nothing was wiped") && unconfirmed.stdout.contains("--yes"), "\(unconfirmed.stdout)")
        #expect(unconfirmed.stdout.contains("Halqa's archive of") && unconfirmed.stdout.contains("2 sessions."))
        #expect(try !folder.filesHolding(old[0]).isEmpty, "nothing is wiped without confirmation")
        let confirmed = try serve(["--keep-days", "30", "--yes"])
        #expect(confirmed.stdout.contains("Wiped 1 session (3 reflections)"), "\(confirmed.stdout)\(confirmed.stderr)")
        #expect(confirmed.stdout.contains("Halqa's archive of") && confirmed.stdout.contains("1 session."))
        for text in old + ["Old circle"] { #expect(try folder.filesHolding(text).isEmpty, "\(text)") }
        for text in kept { #expect(try !folder.filesHolding(text).isEmpty, "\(text)") }
        let listed = try CLI.run(["sessions", "--json", "--data", folder.path])
        #expect(listed.stdout.contains(recent.hex))
        let later = try serve([])
        #expect(later.stdout.contains("keeps sessions for 30 days; none is older"), "\(later.stdout)")
        let forever = try serve(["--keep-days", "0"])
        #expect(forever.stdout.contains("keeps every session again"))
    }
}
