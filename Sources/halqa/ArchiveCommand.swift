import ArgumentParser
import Foundation
import Logging
import Meeting
import Node

/// `halqa archive`: the organiser's archive (docs/archive.md).
struct ArchiveCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "archive",
        abstract: "The organiser's archive: read, search, chart and report many groups' sessions in a web page.",
        discussion: """
            `halqa archive` serves the archive of the data folder as a web page on this laptop. \
            `halqa archive import DIR...` collects every export in folders (a USB stick's worth); \
            `halqa archive report` writes CSV tables for monitoring and evaluation.
            """,
        subcommands: [ArchiveServe.self, ArchiveImportCommand.self, ArchiveReportCommand.self],
        defaultSubcommand: ArchiveServe.self)
}

struct ArchiveServe: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "serve", abstract: "Serve the archive as a web page (the default of `halqa archive`).",
        discussion: """
            The page opens only with the link printed at start (it ends in #key=…; a new one each \
            time). It listens on this laptop only, unless --bind gives an address other machines reach.
            """)

    @OptionGroup var data: DataOptions
    @Option(help: "The port to listen on.") var port = 8070
    @Option(help: ArgumentHelp("The address to listen on (default 127.0.0.1: this laptop only).", valueName: "ADDR"))
    var bind = "127.0.0.1"
    @Option(
        help: ArgumentHelp(
            "Keep sessions for N days: list older ones and wipe them once confirmed, now and at every start. 0 keeps everything again.",
            valueName: "N"))
    var keepDays: Int?
    @Flag(help: "Wipe sessions older than the days kept without asking (for a script or a timer).") var yes = false

    func validate() throws {
        if let keepDays, !(0...Limits.keepDays).contains(keepDays) {
            throw ValidationError("--keep-days must be a number of days from 1 to \(Limits.keepDays), or 0 to keep everything.")
        }
    }

    func run() async throws {
        let store = try data.openArchive()
        do {
            try await Retention.apply(store, keepDays: keepDays, yes: yes)
        } catch { throw fail(error) }
        let total = (try? store.archive(limit: 1).total) ?? 0
        let secret = ArchiveServer.newSecret()
        let logger = NodeLogHandler.logger("halqa")
        let (bind, folder) = (bind, data.folder)
        if !["127.0.0.1", "::1", "localhost"].contains(bind) {
            FileHandle.standardError.put(
                Data(
                    """
                    halqa: the archive will be reachable at \(bind), over plain HTTP: whoever can see this network's traffic \
                    (on Wi-Fi, anyone who knows its password) can read what the page shows and the passphrases typed into it. \
                    Use --bind only on a network of your own, with a cable or a Wi-Fi nobody else joins.

                    """.utf8))
        }
        do {
            try await ArchiveServer.run(store: store, secret: secret, bind: bind, port: port, logger: logger) { port in
                FileHandle.standardOutput.put(
                    Data(
                        """

                        Halqa's archive of \(folder): \(total) session\(total == 1 ? "" : "s").

                          Open it (keep this link to yourself):
                            \(ArchiveServer.link(bind: bind, port: port, secret: secret))

                        Press Ctrl-C to stop.

                        """.utf8))
            }
        } catch let error as HostError {
            throw fail(error)
        }
    }
}

/// The archive's retention: say what goes, then wipe it as `halqa wipe` does.
enum Retention {
    static func apply(_ store: TranscriptStore, keepDays given: Int?, yes: Bool) async throws(MeetingError) {
        if given == 0 {
            try store.setKeepDays(nil)
            print("The archive keeps every session again.")
            return
        }
        let saved = try store.keepDays()
        guard let days = given ?? saved else { return }
        let older = try store.olderThan(days: days, now: Int64(Date().timeIntervalSince1970 * 1000))
        guard !older.isEmpty else {
            if given != nil { try store.setKeepDays(days) }
            print("The archive keeps sessions for \(days) days; none is older.")
            return
        }
        print("The archive keeps sessions for \(days) days. \(older.count) session\(older.count == 1 ? " is" : "s are") older:")
        for entry in older.prefix(20) { print("  " + describe(entry)) }
        if older.count > 20 { print("  … and \(older.count - 20) more.") }
        // Asked every time, the saved setting too: a laptop whose clock runs years ahead
        // would otherwise wipe the whole archive at start.
        // Declining wipes nothing and the archive opens all the same.
        if !yes {
            guard isatty(STDIN_FILENO) == 1 else {
                print("Nothing was wiped: that cannot be undone, so it needs --yes when no one is at a terminal to type WIPE.")
                return
            }
            print("Wipe them? This cannot be undone. Type WIPE to confirm: ", terminator: "")
            guard readLine()?.trimmingCharacters(in: .whitespaces) == "WIPE" else {
                print("Nothing was wiped: the confirmation was not WIPE.")
                return
            }
        }
        if given != nil { try store.setKeepDays(days) }
        let wiped = try await store.wipe(sessions: older.compactMap { EventID(hex: $0.id) })
        print(
            "Wiped \(wiped.sessions) session\(wiped.sessions == 1 ? "" : "s") (\(wiped.reflections) reflections); their text cannot be recovered from this data folder. Exports and other laptops keep their copies."
        )
    }

    /// "2026-03-21  week 4/12 Tuesday men  Seeing myself".
    static func describe(_ entry: ArchiveEntry) -> String {
        let day = String(Transcript.timestamp(entry.createdAt).prefix(10))
        let week = entry.week.map { "week \($0)/\(entry.weeks ?? 0) \(entry.group ?? "")  " } ?? ""
        return "\(day)  \(entry.id.prefix(12))  \(week)\(entry.title)"
    }
}

struct ArchiveImportCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "import",
        abstract: "Collect every export in the folders given (a USB stick's worth) into the archive.",
        discussion: """
            Each file is verified and stored whole or not at all; one report line says what became \
            of it: added, merged, already here, refused (and why) or skipped (not an export). \
            Encrypted exports are opened with one passphrase, asked once.
            """)

    @OptionGroup var data: DataOptions
    @Argument(help: ArgumentHelp("Folders (or files) holding exports.", valueName: "DIR")) var paths: [String]
    @OptionGroup var passphrase: PassphraseOptions
    @Flag(help: "Print the report as JSON.") var json = false

    func validate() throws {
        if paths.isEmpty { throw ValidationError("Give the folder that holds the exports, for example /media/usb.") }
    }

    func run() async throws {
        let files: [String]
        do { files = try ArchiveImport.files(in: paths) } catch { throw fail(error) }
        let store = try data.openArchive()
        let options = passphrase
        let asked = AskOnce { () throws(MeetingError) -> String in try options.read(purpose: "of the encrypted exports", confirm: false) }
        // Asked before any file is read, so nothing printed interrupts the question.
        if files.contains(where: { path in
            FileHandle(forReadingAtPath: path).map { SealedFile.isSealed($0.readData(ofLength: 64)) } ?? false
        }) {
            _ = try? asked.get()
        }
        var outcomes: [ImportOutcome] = []
        await store.importFiles(files, passphrase: asked) { outcome in
            outcomes.append(outcome)
            if !json {
                print("  \(outcome.kind.rawValue.padding(toLength: 14, withPad: " ", startingAt: 0))\(outcome.file): \(outcome.message)")
            }
        }
        if json {
            printJSON(outcomes)
        } else {
            let count = { (kind: ImportOutcome.Kind) in outcomes.filter { $0.kind == kind }.count }
            print(
                "\(files.count) file\(files.count == 1 ? "" : "s"): \(count(.added)) added, \(count(.merged)) merged, \(count(.alreadyHere)) already here, \(count(.refused)) refused, \(count(.skipped)) skipped."
            )
        }
        if outcomes.contains(where: { $0.kind == .refused }) { throw ExitCode(1) }
    }
}

struct ArchiveReportCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "report",
        abstract: "Write the archive's tables for monitoring and evaluation: sessions, check-ins and reflections.",
        discussion: """
            CSV in UTF-8 with a byte-order mark (Excel shows Urdu and Pashto), one row per session, \
            per check-in and per revealed reflection, with stable ids to join on. The columns are \
            described in docs/archive.md. Nothing in them identifies a participant.
            """)

    enum Format: String, ExpressibleByArgument { case csv }

    @OptionGroup var data: DataOptions
    @Option(help: "The format (csv).") var format: Format = .csv
    @Option(help: ArgumentHelp("The folder to write sessions.csv, checkins.csv and reflections.csv in.", valueName: "DIR"))
    var out = "halqa-report"
    @Option(help: "Only this group's sessions.") var group: String?
    @Option(help: "Only this programme's sessions (its English title).") var programme: String?
    @Option(help: "Only this week of a programme.") var week: Int?
    @Option(help: ArgumentHelp("Only sessions from this day on.", valueName: "YYYY-MM-DD")) var from: String?
    @Option(help: ArgumentHelp("Only sessions up to this day.", valueName: "YYYY-MM-DD")) var to: String?
    @Option(help: "Only sessions held in this language (en, ur, ps).") var language: String?

    func run() async throws {
        let store = try data.openArchive()
        let filter = ArchiveFilter(group: group, programme: programme, week: week, from: from, to: to, language: language)
        do {
            try FileManager.default.createDirectory(atPath: out, withIntermediateDirectories: true)
        } catch {
            throw fail(MeetingError(.storage, "Cannot make the folder \(out): \(error.localizedDescription). Choose another with --out."))
        }
        for report in ArchiveReport.allCases {
            let path = (out as NSString).appendingPathComponent(report.fileName)
            let partial = path + ".partial"
            // Readable by this user only: the tables hold every reflection's text.
            guard FileManager.default.createFile(atPath: partial, contents: nil, attributes: [.posixPermissions: 0o600]),
                let handle = FileHandle(forWritingAtPath: partial)
            else {
                throw fail(MeetingError(.storage, "Cannot write \(partial). Check that you may write in \(out)."))
            }
            do {
                let rows = try await store.write(report, filter) { piece in try handle.write(contentsOf: Data(piece.utf8)) }
                try handle.close()
                _ = try? FileManager.default.removeItem(atPath: path)
                try FileManager.default.moveItem(atPath: partial, toPath: path)
                print("Wrote \(path): \(rows) row\(rows == 1 ? "" : "s").")
            } catch let error as MeetingError {
                try? FileManager.default.removeItem(atPath: partial)
                throw fail(error)
            } catch {
                try? FileManager.default.removeItem(atPath: partial)
                throw fail(MeetingError(.storage, "Cannot write \(path): \(error.localizedDescription)."))
            }
        }
    }
}
