import ArgumentParser
import Foundation
import Meeting

/// One line of `halqa sessions`.
struct SessionSummary: Codable {
    var id: String
    var title: String
    var createdAt: String
    var closedAt: String?
    var status: String
    var prompts: Int
    var promptsOpened: Int
    var reflectionsRevealed: Int

    init(_ state: SessionState) {
        let transcript = Transcript(state)
        id = state.id.hex
        title = state.created.title
        createdAt = transcript.session.createdAt
        closedAt = transcript.session.closedAt
        status = state.isClosed ? "closed" : "open"
        prompts = state.prompts.count
        promptsOpened = state.prompts.filter { $0.status != .waiting }.count
        reflectionsRevealed = transcript.prompts.map(\.reflections.count).reduce(0, +)
    }
}

struct Sessions: AsyncParsableCommand {
    static let configuration = CommandConfiguration(abstract: "List the sessions in the data folder, newest first.")

    @OptionGroup var data: DataOptions
    @Flag(help: "Print JSON instead of a table.") var json = false

    func run() async throws {
        guard data.exists else {
            if json { print("[]") } else {
                print("No sessions in \(data.folder) yet. Bring one in with `halqa import FILE.json`, or give another folder with --data.")
            }
            return
        }
        let store = try data.open()
        let summaries: [SessionSummary]
        do {
            summaries = try store.sessionIDs().map { id throws(MeetingError) in SessionSummary(try store.state(of: id)) }
        } catch { throw fail(error) }
        if json { printJSON(summaries); return }
        if summaries.isEmpty {
            print("No sessions in \(data.folder) yet. Bring one in with `halqa import FILE.json`.")
            return
        }
        print(Self.pad(["ID", "CREATED", "STATUS", "PROMPTS", "SHOWN", "TITLE"]))
        for s in summaries {
            print(Self.pad([String(s.id.prefix(12)), String(s.createdAt.prefix(16)).replacingOccurrences(of: "T", with: " "),
                            s.status, "\(s.promptsOpened)/\(s.prompts)", "\(s.reflectionsRevealed)", s.title]))
        }
    }

    static func pad(_ columns: [String]) -> String {
        let widths = [12, 16, 6, 7, 5]
        return zip(columns, widths + [0]).map { text, width in
            width == 0 ? text : text.padding(toLength: width, withPad: " ", startingAt: 0)
        }.joined(separator: "  ")
    }
}

struct Export: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Write a session's transcript: prompts, revealed reflections, resonance and notes.",
        discussion: """
            Hidden and unrevealed reflections are never exported. The JSON format is described in \
            docs/transcript.md. With --encrypt the file is locked with a passphrase (scrypt and \
            ChaCha20-Poly1305) for carrying on a USB stick; `halqa import` and `halqa decrypt` ask for it.
            """)

    enum Format: String, ExpressibleByArgument, CaseIterable { case markdown, json }

    @OptionGroup var data: DataOptions
    @Argument(help: ArgumentHelp("The session's id, or its first few characters (see `halqa sessions`).", valueName: "SESSION"))
    var session: String
    @Option(help: "markdown (to read and print) or json (to import on another node).") var format: Format = .markdown
    @Option(help: ArgumentHelp("Write to this file instead of standard output.", valueName: "FILE")) var output: String?
    @Flag(help: "Lock the file with a passphrase (asked twice, or read with --passphrase-file).") var encrypt = false
    @OptionGroup var passphrase: PassphraseOptions

    func validate() throws {
        if encrypt && output == nil { throw ValidationError("An encrypted export is a binary file: give --output FILE, for example a file on the USB stick.") }
        if !encrypt && passphrase.passphraseFile != nil { throw ValidationError("--passphrase-file is for --encrypt; add --encrypt to lock the export.") }
    }

    func run() async throws {
        guard data.exists else { throw fail(MeetingError(.noSuchSession, "There are no sessions in \(data.folder).")) }
        let store = try data.open()
        do {
            let transcript = Transcript(try store.state(of: try store.resolveSession(session)))
            var bytes = format == .json ? transcript.json() : Data(transcript.markdown().utf8)
            if encrypt {
                bytes = try SealedFile.seal(bytes, passphrase: try passphrase.read(purpose: "to lock the export", confirm: true))
            }
            if let output {
                try writeAtomically(bytes, to: output)
                FileHandle.standardError.write(Data("Wrote \(transcript.session.title) to \(output)\(encrypt ? ", encrypted" : "").\n".utf8))
            } else {
                FileHandle.standardOutput.write(bytes)
            }
        } catch { throw fail(error) }
    }
}

struct Import: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Load a transcript exported as JSON into this node's data folder.",
        discussion: """
            Every event in the file is verified first; an altered file is refused whole. Importing a \
            session this node already holds merges it. An encrypted export asks for its passphrase.
            """)

    @OptionGroup var data: DataOptions
    @Argument(help: ArgumentHelp("A file written by `halqa export SESSION --format json`.", valueName: "FILE")) var file: String
    @OptionGroup var passphrase: PassphraseOptions

    func run() async throws {
        guard var bytes = FileManager.default.contents(atPath: file) else {
            throw fail(MeetingError(.invalidTranscript, "Cannot read \(file). Check the path and that you may read it."))
        }
        do throws(MeetingError) {
            if SealedFile.isSealed(bytes) {
                bytes = try SealedFile.open(bytes, passphrase: try passphrase.read(purpose: "of \(file)", confirm: false))
                if bytes.first != UInt8(ascii: "{") {
                    throw MeetingError(.invalidTranscript, "\(file) holds a Markdown export, which is for reading: open it with `halqa decrypt \(file)`. Only JSON exports (--format json) can be imported.")
                }
            }
        } catch { throw fail(error) }
        let store = try data.open()
        do {
            let result = try await store.importTranscript(bytes)
            let already = result.events - result.newEvents
            print("Imported \"\(result.title)\" (\(result.session.short)): \(result.newEvents) new event\(result.newEvents == 1 ? "" : "s")"
                  + (already > 0 ? ", \(already) already here." : "."))
        } catch { throw fail(error) }
    }
}

struct Search: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Find closed sessions and passages containing every given word.",
        discussion: "Searches titles, prompts, revealed reflections and notes of closed sessions.")

    @OptionGroup var data: DataOptions
    @Argument(help: "Words to find (all must appear).") var words: [String]
    @Flag(help: "Print JSON instead of text.") var json = false

    func validate() throws {
        if words.isEmpty { throw ValidationError("Give at least one word to search for.") }
    }

    struct Found: Codable {
        var session: String
        var title: String
        var closedAt: String?
        var passages: [SearchHit]
    }

    func run() async throws {
        guard data.exists else {
            if json { print("[]") } else { print("Nothing found: there are no sessions in \(data.folder).") }
            return
        }
        let store = try data.open()
        var found: [Found] = []
        do {
            for hit in try store.search(words.joined(separator: " ")) {
                if let i = found.firstIndex(where: { $0.session == hit.session }) {
                    found[i].passages.append(hit)
                } else if let id = EventID(hex: hit.session) {
                    let state = try store.state(of: id)
                    found.append(Found(session: hit.session, title: state.created.title,
                                       closedAt: Transcript(state).session.closedAt, passages: [hit]))
                }
            }
        } catch { throw fail(error) }
        if json { printJSON(found); return }
        if found.isEmpty { print("Nothing found for \(words.joined(separator: " ")) in closed sessions."); return }
        for session in found {
            print("\(session.session.prefix(12))  \(session.title)  (closed \(session.closedAt ?? "?"))")
            for p in session.passages {
                let place = p.prompt.map { "\(p.kind), prompt \($0)" } ?? p.kind
                print("    [\(place)] \(p.snippet.replacingOccurrences(of: "\n", with: " "))")
            }
        }
    }
}

struct Decrypt: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Unlock an export written with --encrypt, to read it.",
        discussion: "Writes to standard output unless --output is given. Mind where you write it: the decrypted file is readable by anyone who has the stick.")

    @Argument(help: ArgumentHelp("A file written by `halqa export ... --encrypt`.", valueName: "FILE")) var file: String
    @Option(help: ArgumentHelp("Write to this file instead of standard output.", valueName: "FILE")) var output: String?
    @OptionGroup var passphrase: PassphraseOptions

    func run() async throws {
        guard let bytes = FileManager.default.contents(atPath: file) else {
            throw fail(MeetingError(.invalidTranscript, "Cannot read \(file). Check the path and that you may read it."))
        }
        do {
            let plain = try SealedFile.open(bytes, passphrase: try passphrase.read(purpose: "of \(file)", confirm: false))
            if let output { try writeAtomically(plain, to: output) } else { FileHandle.standardOutput.write(plain) }
        } catch { throw fail(error) }
    }
}
