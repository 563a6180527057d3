import ArgumentParser
import Foundation
import Logging
import Meeting
import Node

struct NodeCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "node",
        abstract: "Run a node with no session of its own, for a facilitator to admit into theirs.",
        discussion: """
            It finds the hosts on this network (or calls --join HOST:PORT) and asks them one at a \
            time, showing a six-digit confirmation code. The facilitator admits it on the console, \
            as co-facilitator (keeps the whole session and can run it if the host's laptop stops) \
            or archivist (a read-only copy for organisers), after checking that the console shows \
            the same code. Then you confirm here, after checking the same code and the session's \
            digest on the facilitator's console: nothing is kept before you type yes. From then on \
            it keeps its copy in step with the other nodes. `halqa node --resume SESSION` \
            continues after a restart.
            """)

    @Option(help: ArgumentHelp("Ask this host (its address and peer port) instead of looking on the network.", valueName: "HOST:PORT"))
    var join: String?
    @Option(help: ArgumentHelp("Continue following a session this node was admitted to.", valueName: "SESSION")) var resume: String?
    @Option(help: "The port for participants' pages, if admitted as co-facilitator.") var port = 8080
    @Option(
        help: ArgumentHelp(
            "The port other nodes call (default: --port + 1; with --resume, any free port if that is taken).", valueName: "PORT"))
    var peerPort: Int?
    @Option(help: ArgumentHelp("The address to listen on (default: every network of this machine).", valueName: "ADDR")) var bind =
        "0.0.0.0"
    @Option(
        help: ArgumentHelp("The name the facilitator sees (default: halqa- and a short code). Never the group or topic.", valueName: "NAME")
    ) var name: String?
    @Flag(help: "Do not announce this node or look for others on the network; use --join.") var noDiscovery = false
    @OptionGroup var data: DataOptions

    func validate() throws {
        if let name, name.isEmpty || name.utf8.count > 63 { throw ValidationError("--name must be 1 to 63 bytes long.") }
        if noDiscovery && join == nil && resume == nil {
            throw ValidationError("With --no-discovery, give the host's address: --join HOST:PORT.")
        }
    }

    /// Asks the person at this laptop to confirm the host, at the terminal.
    static func confirm(_ offer: PairingOffer, say: @escaping @Sendable (String) -> Void) async -> Bool {
        say(
            """

            \(offer.hostName) (key \(offer.hostFingerprint)) admitted this laptop as \(offer.role.wireName) and sent a session of \(offer.events) events, digest \(offer.digest).
              Confirmation code: \(offer.code)
            Look at the facilitator's console: next to this laptop's key \(offer.nodeFingerprint) it must show the code \(offer.code) and the digest \(offer.digest).
            If both match, type yes to keep this session; anything else refuses it and nothing is kept.
            """)
        FileHandle.standardOutput.put(Data("> ".utf8))
        guard let answer = await readLineOffThread() else {
            say("No answer (the input is closed): not joining. Run `halqa node` at a terminal to answer.")
            return false
        }
        return answer.trimmingCharacters(in: .whitespaces).lowercased() == "yes"
    }

    /// Reads one line of standard input on a thread of its own, so the node's tasks go on.
    static func readLineOffThread() async -> String? {
        await withCheckedContinuation { continuation in
            Thread.detachNewThread { continuation.resume(returning: readLine()) }
        }
    }

    func run() async throws {
        let say: @Sendable (String) -> Void = { line in FileHandle.standardOutput.put(Data((line + "\n").utf8)) }
        var options = HostOptions(
            deckPath: nil, resume: resume, title: nil, port: port, bind: bind, dataFolder: data.folder,
            minimumToReveal: Limits.defaultMinimumToReveal, onePerPrompt: true, name: name)
        options.discovery = !noDiscovery
        options.peerPort = peerPort
        let logger = NodeLogHandler.logger("halqa")
        do {
            let store = try data.open()

            let session: LiveSession
            var joinCode: String?
            if let resume {
                session = try await LiveSession.resume(try store.resolveSession(resume), in: store)
            } else {
                // Each attempt speaks with a key (and, by default, a name) of its own.
                let admitted = try await Joiner.join(
                    address: join, name: name, peerPort: peerPort ?? port + 1, store: store, show: say,
                    confirm: { offer in await NodeCommand.confirm(offer, say: say) })
                session = admitted.session
                joinCode = admitted.joinCode
                options.knownPeer = admitted.host
                say(
                    "Admitted by \(admitted.hostName) as \(admitted.role.wireName) to session \(session.id.short): \(await session.state.allEvents.count) events caught up in \(String(format: "%.3f", admitted.catchUpSeconds)) s, \(admitted.catchUpBytes) bytes."
                )
            }
            let room = try await Host.room(for: session, joinCode: joinCode, store: store, options: options)
            try await Host.run(
                room, store: store, options: options, logger: logger,
                ready: { banner in
                    var out =
                        "\nFollowing \"\(banner.title)\" (session \(banner.sessionID.short)) as \(session.acceptsReflections ? "co-facilitator" : "archivist").\n"
                    if session.acceptsReflections {
                        out += "  Participants can also use: \(banner.participantURL)  (code \(banner.joinCode))\n"
                    }
                    out += "  This node's console (keep this link to yourself):\n    \(banner.consoleURL)\n"
                    say(out)
                }, say: say)
            say(
                await room.wasWiped
                    ? "\nStopped. Session \(session.id.short) is no longer on this laptop."
                    : "\nStopped. Continue with: halqa node --resume \(session.id.short)")
        } catch let error as MeetingError {
            throw fail(error)
        } catch let error as HostError {
            throw fail(error)
        }
    }
}
