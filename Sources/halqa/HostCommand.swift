import ArgumentParser
import Foundation
import Logging
import Meeting
import Node

struct HostCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "host",
        abstract: "Host a session: participants join from their phones' browsers on this network.",
        discussion: """
            Prints the address participants open, the join code and a QR code, and the link to the \
            facilitator's console. Ctrl-C (or SIGTERM) stops it; every acknowledged reflection is \
            already saved, and `halqa host --resume SESSION` continues.
            """)

    @Option(
        help: ArgumentHelp(
            "The prompt deck to run: a file (see docs/decks.md) or the name of one that came with Halqa (halqa decks lists them). Without a deck, a programme or --resume, halqa host asks which.",
            valueName: "NAME|FILE"))
    var deck: String?
    @Option(help: ArgumentHelp("Continue a session after a restart (its id or first characters).", valueName: "SESSION")) var resume:
        String?
    @Option(
        help: ArgumentHelp(
            "Host the next week of a programme (a file, see docs/decks.md, or the name of one that came with Halqa): the first week not yet held on this laptop for --group.",
            valueName: "NAME|FILE"))
    var programme: String?
    @Option(
        help: ArgumentHelp(
            "The group following the programme: a label you choose (a code name is safer than a village's name). Kept with the session, never announced on the network.",
            valueName: "LABEL"))
    var group: String?
    @Option(help: ArgumentHelp("With --programme: hold this week rather than the next one.", valueName: "N")) var week: Int?
    @Option(help: "The session's title, shown to participants (default: the deck's title).") var title: String?
    @Option(help: "The port to listen on.") var port = 8080
    @Option(help: ArgumentHelp("The address to listen on (default: every network of this machine).", valueName: "ADDR")) var bind =
        "0.0.0.0"
    @Option(help: "Reveal only when at least this many reflections have arrived (2 to 50).") var minimum = Limits.defaultMinimumToReveal
    @Flag(help: "Let a participant write several reflections to one prompt (default: one).") var severalPerPrompt = false
    @Option(
        help: ArgumentHelp(
            "The room's language: the projector shows it and phones start in it (a phone set to Urdu or Pashto starts in its own). Default: the deck's \"language:\", else en; kept with the session.",
            valueName: "en|ur|ps"))
    var language: String?
    @Option(
        help: ArgumentHelp(
            "The name other nodes see on the network (default: halqa- and a short code). Never the group or topic.", valueName: "NAME"))
    var name: String?
    @Flag(help: "Do not announce this node or look for others on the network; others need its address.") var noDiscovery = false
    @Option(
        help: ArgumentHelp(
            "The port other Halqa nodes call (default: --port + 1, or any free port if that is taken; 0 for any free port).",
            valueName: "PORT"))
    var peerPort: Int?
    @Flag(help: "Open the facilitator's console in this laptop's browser (xdg-open) once the session starts.") var open = false
    @OptionGroup var data: DataOptions

    func validate() throws {
        if let name, name.isEmpty || name.utf8.count > 63 {
            throw ValidationError("--name must be 1 to 63 bytes long (a DNS-SD instance name).")
        }
        if [deck != nil, resume != nil, programme != nil].filter({ $0 }).count > 1 {
            throw ValidationError(
                "Give only one of --deck, --programme (with --group) to start a session, or --resume SESSION to continue one, e.g. --deck real-man"
            )
        }
        if programme != nil, group == nil {
            throw ValidationError(
                "--programme needs --group LABEL: the group whose next week to hold (a code name is safer than a village's name).")
        }
        if programme == nil, group != nil || week != nil {
            throw ValidationError("--group and --week go with --programme FILE.")
        }
        if !(0...65535).contains(port) { throw ValidationError("--port must be between 1 and 65535.") }
        if let language, Language(rawValue: language.lowercased()) == nil {
            throw ValidationError("--language must be en (English), ur (Urdu) or ps (Pashto), not \"\(language)\".")
        }
        if resume != nil && (title != nil || minimum != Limits.defaultMinimumToReveal || severalPerPrompt) {
            throw ValidationError(
                "--title, --minimum and --several-per-prompt are set when a session starts; leave them out with --resume.")
        }
    }

    func run() async throws {
        var (deck, programme, group) = (deck, programme, group)
        if deck == nil, programme == nil, resume == nil {
            switch try Self.choose() {
            case .deck(let path): deck = path
            case .programme(let path, let label): (programme, group) = (path, label)
            }
        }
        deck = try deck.map { given in try Self.resolve(given, as: .deck) }
        programme = try programme.map { given in try Self.resolve(given, as: .programme) }
        var options = HostOptions(
            deckPath: deck, resume: resume, title: title, port: port, bind: bind, dataFolder: data.folder,
            minimumToReveal: minimum, onePerPrompt: !severalPerPrompt, name: name)
        options.discovery = !noDiscovery
        options.language = language.flatMap { Language(rawValue: $0.lowercased()) }
        options.peerPort = peerPort
        options.programmePath = programme
        options.group = group
        options.week = week
        let logger = NodeLogHandler.logger("halqa")
        do {
            let (room, store) = try await Host.prepare(options)
            announce(store.schemaUpdate, folder: options.dataFolder)
            try await Host.run(
                room, store: store, options: options, logger: logger,
                ready: { banner in
                    FileHandle.standardOutput.put(Data(Self.describe(banner).utf8))
                    if open { Browser.open(banner.consoleURL, what: "the facilitator's console") }
                },
                say: { line in
                    FileHandle.standardOutput.put(Data((line + "\n").utf8))
                })
            if await room.wasWiped {
                FileHandle.standardOutput.put(Data("\nStopped. Session \(room.session.id.short) is no longer on this laptop.\n".utf8))
            } else {
                FileHandle.standardOutput.put(
                    Data("\nStopped. Everything is saved; continue with: halqa host --resume \(room.session.id.short)\n".utf8))
            }
        } catch let error as HostError {
            throw fail(error)
        }
    }

    static func describe(_ b: HostBanner) -> String {
        var out = "\nHalqa is hosting \"\(b.title)\" (session \(b.sessionID.short)).\n\n"
        if let p = b.programme {
            out += "  Week \(p.week) of \(p.weeks) of \"\(p.title.preferring(.en))\", group \"\(p.group)\".\n\n"
        }
        out += "  Participants: open  \(b.participantURL)\n"
        out += "                type  \(b.joinCode)\n"
        out += "  or scan this with a phone's camera:\n\n"
        if let qr = b.qr { out += qr.terminalText.split(separator: "\n").map { "    " + $0 }.joined(separator: "\n") + "\n\n" }
        out += "  (the QR code opens  \(b.joinURL) )\n\n"
        out += "  Facilitator's console (keep this link to yourself):\n    \(b.consoleURL)\n"
        out += "  Projector view:\n    \(b.screenURL)\n\n"
        out += "Press Ctrl-C to stop. The session is saved as it goes.\n"
        return out
    }
}
