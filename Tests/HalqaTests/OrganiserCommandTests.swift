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
        for text in [
            "میرے والد کہتے تھے کہ مرد روتا نہیں۔", "That a real man never backs down.", "My uncle said men must control the house.",
        ] {
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
        #expect(viaFlag.stdout.contains("closed") && viaFlag.stdout.contains("1/8"))
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
        let a = TemporaryFolder()
        let b = TemporaryFolder()
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
        validator.arguments = [
            "-c",
            "import json, sys, jsonschema; jsonschema.Draft202012Validator(json.load(open(sys.argv[1]))).validate(json.load(open(sys.argv[2])))",
            CLI.repository.path + "/docs/transcript.schema.json", file,
        ]
        try validator.run()
        validator.waitUntilExit()
        #expect(
            validator.terminationStatus == 0,
            "the export does not match docs/transcript.schema.json (scripts/setup --test installs python3-jsonschema)")
        let file2 = b.path + "/t2.json"
        try CLI.run(["export", id.short, "--format", "json", "--output", file2, "--data", b.path])
        #expect(FileManager.default.contents(atPath: file) == FileManager.default.contents(atPath: file2))
    }

    @Test("digest is the same on the node that ran a session and on one that imported it")
    func digest() async throws {
        let a = TemporaryFolder()
        let b = TemporaryFolder()
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

    @Test("export and decrypt to a reader that went away (SIGPIPE ignored) exit 1 and say to write to a file")
    func readerGoneAway() async throws {
        let data = TemporaryFolder()
        let id = try await finishedSession(in: data.path)
        try "a long enough passphrase\n".write(toFile: data.path + "/pass", atomically: true, encoding: .utf8)
        let locked = data.path + "/export.halqa"
        let sealed = try CLI.run([
            "export", id.hex, "--format", "json", "--encrypt", "--passphrase-file", data.path + "/pass", "--output", locked, "--data",
            data.path,
        ])
        #expect(sealed.status == 0, "\(sealed.stderr)")
        for arguments in [["export", id.hex, "--data", data.path], ["decrypt", locked, "--passphrase-file", data.path + "/pass"]] {
            // Standard output is a pipe no one can read: its reading end is closed as soon as it
            // is made, before the command starts. A shell that ignores SIGPIPE (as some launchers
            // do) passes that on, so the write fails rather than the system ending the command.
            var ends: [Int32] = [-1, -1]
            try #require(pipe(&ends) == 0)
            close(ends[0])
            _ = fcntl(ends[1], F_SETFD, FD_CLOEXEC)
            let process = Process()
            process.executableURL = URL(fileURLWithPath: "/bin/sh")
            process.arguments = ["-c", #"trap "" PIPE; exec "$@""#, "sh", CLI.binaries.appendingPathComponent("halqa").path] + arguments
            process.environment = ProcessInfo.processInfo.environment.merging(["SWIFT_BACKTRACE": "enable=no"]) { $1 }
            let err = Pipe()
            process.standardOutput = FileHandle(fileDescriptor: ends[1], closeOnDealloc: true)
            process.standardError = err
            process.standardInput = FileHandle.nullDevice
            try process.run()
            let said = String(decoding: err.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
            process.waitUntilExit()
            #expect(process.terminationReason == .exit && process.terminationStatus == 1, "\(arguments[0]): \(said)")
            #expect(said.contains("Could not write the ") && said.contains("Broken pipe") && said.contains("--output FILE"), "\(said)")
        }
        // A full disk (standard output sent to /dev/full) is said as such.
        let process = Process()
        process.executableURL = CLI.binaries.appendingPathComponent("halqa")
        process.arguments = ["export", id.hex, "--data", data.path]
        process.standardOutput = try #require(FileHandle(forWritingAtPath: "/dev/full"))
        let err = Pipe()
        process.standardError = err
        try process.run()
        let said = String(decoding: err.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        process.waitUntilExit()
        #expect(process.terminationStatus == 1 && said.contains("No space left on device): it was not written in full."), "\(said)")
    }

    /// Threat: someone who later takes the USB stick an export was carried on.
    @Test(
        "export --encrypt: the file holds none of the text; import asks for the passphrase at a terminal; a wrong passphrase or a changed byte gets its own error and imports nothing"
    )
    func encryptedExport() async throws {
        let a = TemporaryFolder()
        let b = TemporaryFolder()
        let id = try await finishedSession(in: a.path)
        let passphrase = a.path + "/pass"
        let wrong = a.path + "/wrong"
        let sealed = a.path + "/stick.halqa"
        try "ghee tandoor kite river\n".write(toFile: passphrase, atomically: true, encoding: .utf8)
        try "ghee tandoor kite rivers\n".write(toFile: wrong, atomically: true, encoding: .utf8)
        let export = try CLI.run([
            "export", id.short, "--format", "json", "--encrypt", "--passphrase-file", passphrase, "--output", sealed, "--data", a.path,
        ])
        #expect(export.status == 0 && export.stderr.contains("encrypted"), "\(export.stderr)")
        let bytes = try #require(FileManager.default.contents(atPath: sealed))
        for secret in ["Tuesday circle", "real man", "میرے والد", "fathers", id.hex] {
            #expect(bytes.range(of: Data(secret.utf8)) == nil, "the encrypted file shows \(secret)")
        }

        func importedSessions() throws -> Int {
            guard FileManager.default.fileExists(atPath: b.path + "/halqa.sqlite") else { return 0 }
            let listed = try CLI.run(["sessions", "--json", "--data", b.path])
            return (try JSONSerialization.jsonObject(with: Data(listed.stdout.utf8)) as! [Any]).count
        }
        let refused = try CLI.run(["import", sealed, "--passphrase-file", wrong, "--data", b.path])
        #expect(refused.status == 1 && refused.stderr.contains("That passphrase does not open this file"), "\(refused.stderr)")
        var changed = bytes
        changed[changed.count - 30] ^= 0x01
        try changed.write(to: URL(fileURLWithPath: a.path + "/changed.halqa"))
        let tampered = try CLI.run(["import", a.path + "/changed.halqa", "--passphrase-file", passphrase, "--data", b.path])
        #expect(tampered.status == 1 && tampered.stderr.contains("changed or damaged after it was written"), "\(tampered.stderr)")
        try bytes.prefix(60).write(to: URL(fileURLWithPath: a.path + "/cut.halqa"))
        let cut = try CLI.run(["import", a.path + "/cut.halqa", "--passphrase-file", passphrase, "--data", b.path])
        #expect(cut.status == 1 && cut.stderr.contains("damaged"), "\(cut.stderr)")
        #expect(try importedSessions() == 0, "a refused file must import nothing")

        // Typed at a real terminal (a pseudo-terminal): asked for, not echoed, imported.
        let typed = try CLI.execute(
            URL(fileURLWithPath: "/usr/bin/python3"),
            [
                "-c",
                """
                import os, pty, signal, sys, time
                signal.alarm(60)  # a prompt that never comes fails the test instead of hanging it
                pid, fd = pty.fork()
                if pid == 0:
                    os.execv(sys.argv[1], sys.argv[1:])
                seen = b""
                while b"Passphrase" not in seen:
                    seen += os.read(fd, 1024)
                os.write(fd, b"ghee tandoor kite river\\n")
                while True:
                    try:
                        chunk = os.read(fd, 1024)
                    except OSError:
                        break
                    if not chunk:
                        break
                    seen += chunk
                _, status = os.waitpid(pid, 0)
                sys.stdout.write(seen.decode())
                sys.exit(os.waitstatus_to_exitcode(status))
                """, CLI.binaries.appendingPathComponent("halqa").path, "import", sealed, "--data", b.path,
            ])
        #expect(
            typed.status == 0 && typed.stdout.contains("Passphrase of") && typed.stdout.contains("Imported \"Tuesday circle\""),
            "\(typed.stdout)")
        #expect(!typed.stdout.contains("ghee"), "the passphrase was echoed to the terminal")
        #expect(try importedSessions() == 1)

        // Decrypted, it is the plain export byte for byte.
        let plain = try CLI.run(["export", id.short, "--format", "json", "--data", a.path])
        let opened = try CLI.run(["decrypt", sealed, "--passphrase-file", passphrase])
        #expect(opened.status == 0 && opened.stdout == plain.stdout)
        let weak = try CLI.run([
            "export", id.short, "--encrypt", "--passphrase-file", a.path + "/short", "--output", a.path + "/weak.halqa", "--data", a.path,
        ])
        #expect(weak.status == 1 && weak.stderr.contains("Cannot read a passphrase"))
        try "kite\n".write(toFile: a.path + "/short", atomically: true, encoding: .utf8)
        let short = try CLI.run([
            "export", id.short, "--encrypt", "--passphrase-file", a.path + "/short", "--output", a.path + "/weak.halqa", "--data", a.path,
        ])
        #expect(short.status == 1 && short.stderr.contains("at least 10 characters"))
        #expect(!FileManager.default.fileExists(atPath: a.path + "/weak.halqa"))
    }
}
