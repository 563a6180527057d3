import Foundation
import Hummingbird
import HummingbirdWebSocket
import Logging
import Meeting
import NIOCore
import ServiceLifecycle

/// How `halqa host` was asked to run.
public struct HostOptions: Sendable {
    public var deckPath: String?
    public var resume: String?
    public var title: String?
    public var port: Int
    public var bind: String
    public var dataFolder: String
    public var minimumToReveal: Int
    public var onePerPrompt: Bool
    /// The name announced on the LAN; nil for the neutral default (`halqa-` and a short code).
    public var name: String?
    /// Whether to announce this node and browse for others by mDNS.
    public var discovery: Bool = true
    /// The port other nodes call for replication (TLS); nil for the HTTP port + 1, 0 for any.
    public var peerPort: Int?
    /// A node known to hold the session (the one that admitted this node).
    public var knownPeer: PeerHint?
    /// What one client may take from the node (docs/limits.md).
    public var limits = ServingLimits()
    /// How often resonance counts reach participants' pages and the projector.
    public var resonanceCadence: Duration = .seconds(5)
    /// The room's language: what the projector shows, and what phones start in. When nil,
    /// the session's (copied from the deck's `language:` or an earlier `--language`), else English.
    public var language: Language?
    /// A programme to host the next week of (`--programme`), for the group `group`; `week`
    /// chooses another week than the first not yet held on this node.
    public var programmePath: String?
    public var group: String?
    public var week: Int?

    public init(
        deckPath: String?, resume: String?, title: String?, port: Int, bind: String, dataFolder: String,
        minimumToReveal: Int, onePerPrompt: Bool, name: String? = nil
    ) {
        self.name = name
        self.deckPath = deckPath
        self.resume = resume
        self.title = title
        self.port = port
        self.bind = bind
        self.dataFolder = dataFolder
        self.minimumToReveal = minimumToReveal
        self.onePerPrompt = onePerPrompt
    }
}

/// What `halqa host` prints once it is listening.
public struct HostBanner: Sendable {
    public var title: String
    public var sessionID: EventID
    public var participantURL: String
    public var joinCode: String
    public var joinURL: String
    public var consoleURL: String
    public var screenURL: String
    public var qr: QRCode?
    /// The session's place in a programme, when it has one.
    public var programme: ProgrammePlace? = nil
}

/// Why hosting could not start, in words that say what to do.
public struct HostError: Error, CustomStringConvertible, Sendable {
    public let message: String
    public var description: String { message }

    /// A deck or programme file that cannot be used: each mistake at its line.
    static func mistakes(_ failure: DeckParser.Failure, in path: String, what: String) -> HostError {
        let lines = failure.problems.map { "  \(path):\($0.line): \($0.message)" }.joined(separator: "\n")
        return HostError(message: "The \(what) \(path) has mistakes; fix them and start again:\n\(lines)")
    }
}

/// Runs a node that hosts one session: the pages, the API and the live socket on one port.
public enum Host {
    /// Opens the store, creates or resumes the session, and builds the room, quickly and
    /// without touching the network, so mistakes are reported before anything listens.
    public static func prepare(_ options: HostOptions) async throws -> (MeetingRoom, TranscriptStore) {
        do {
            let store = try TranscriptStore(folder: options.dataFolder)
            let session: LiveSession
            if let resume = options.resume {
                session = try await LiveSession.resume(try store.resolveSession(resume), in: store)
                guard session.acceptsReflections else {
                    throw HostError(
                        message:
                            "This node holds session \(session.id.short) as an archivist's copy and cannot host it. Follow it with `halqa node --resume \(session.id.short)`."
                    )
                }
            } else if let path = options.programmePath {
                let (deck, place) = try nextWeek(of: path, options: options, in: store)
                session = try await LiveSession.start(
                    deck: prepared(deck, options), title: options.title, minimumToReveal: options.minimumToReveal, programme: place,
                    in: store)
            } else if let path = options.deckPath {
                let deck: Deck
                switch DeckParser.parse(fileAt: path) {
                case .success(let parsed): deck = parsed
                case .failure(let failure): throw HostError.mistakes(failure, in: path, what: "deck")
                }
                session = try await LiveSession.start(
                    deck: prepared(deck, options), title: options.title, minimumToReveal: options.minimumToReveal, in: store)
            } else {
                throw HostError(message: "Give a deck to start a session (--deck FILE) or a session to continue (--resume SESSION).")
            }
            return (try await room(for: session, joinCode: nil, store: store, options: options), store)
        } catch let error as MeetingError {
            throw HostError(message: error.message)
        }
    }

    /// What a session keeps of how it was asked to run: the room's language, and how many
    /// reflections a phone may write to a prompt (every laptop that takes it over keeps both).
    static func prepared(_ deck: Deck, _ options: HostOptions) -> Deck {
        var deck = deck
        if let language = options.language { deck.language = language }
        deck.severalPerPrompt = !options.onePerPrompt
        return deck
    }

    /// The week of the programme at `path` to hold now for `options.group`: the one asked for
    /// (`--week`), else the first this node holds no session of (held here, or copied here from
    /// a co-facilitator's laptop, or imported).
    static func nextWeek(of path: String, options: HostOptions, in store: TranscriptStore) throws -> (Deck, ProgrammePlace) {
        let programme: Programme
        switch ProgrammeParser.parse(fileAt: path) {
        case .success(let parsed): programme = parsed
        case .failure(let failure): throw HostError.mistakes(failure, in: path, what: "programme")
        }
        guard let group = options.group.map({ $0.trimmingCharacters(in: .whitespaces) }), !group.isEmpty,
            group.count <= Limits.groupCharacters
        else {
            throw HostError(
                message:
                    "Give the group's label with --group (1 to \(Limits.groupCharacters) characters; a code name is safer than a village's name)."
            )
        }
        let weeks = programme.weeks.count
        let course = ProgrammePlace(title: programme.title, group: group, week: 1, weeks: weeks)
        let held = Set(try store.course(of: course).map(\.week))
        let week: Int
        if let asked = options.week {
            guard (1...weeks).contains(asked) else {
                throw HostError(message: "--week \(asked) is not a week of \(path): it has weeks 1 to \(weeks).")
            }
            week = asked
        } else if let next = (1...weeks).first(where: { !held.contains($0) }) {
            week = next
        } else {
            throw HostError(
                message:
                    "Group \"\(group)\" has held every week of \"\(programme.title.preferring(.en))\" on this laptop (\(weeks) of \(weeks)). To hold a week again, give --week N."
            )
        }
        var place = course
        place.week = week
        return (programme.weeks[week - 1].deck, place)
    }

    /// What the console shows of a session's programme: the week, and what the group said at
    /// the last week's check-ins (counts only), from the session of that week this node holds.
    static func programmeView(of session: LiveSession, in store: TranscriptStore) async throws(MeetingError) -> ConsoleView.ProgrammeView? {
        guard let place = await session.state.created.programme else { return nil }
        var view = ConsoleView.ProgrammeView(
            title: place.title.dictionary, group: place.group, week: place.week, weeks: place.weeks, lastWeek: [])
        guard place.week > 1, let last = try store.course(of: place).last(where: { $0.week == place.week - 1 }) else { return view }
        let state = try store.state(of: last.id)
        view.lastWeek = state.created.deck.prompts.enumerated().compactMap { i, prompt in
            // A check-in nobody's answers were revealed for says nothing: left out.
            guard let scale = prompt.scale, let counts = state.checkInCounts(prompt: i), counts.contains(where: { $0 > 0 }) else {
                return nil
            }
            return .init(number: i + 1, text: prompt.text.dictionary, scale: scale.rawValue, counts: counts)
        }
        return view
    }

    /// The room for a session this node holds: its stored access codes, or new ones (a
    /// co-facilitator takes the session's join code, so participants can move between nodes).
    public static func room(for session: LiveSession, joinCode: String?, store: TranscriptStore, options: HostOptions)
        async throws(MeetingError) -> MeetingRoom
    {
        var access =
            try store.access(to: session.id)
            ?? TranscriptStore.Access(
                joinCode: AccessCodes.newJoinCode(), facilitatorSecret: AccessCodes.newSecret(), screenKey: nil)
        if let joinCode { access.joinCode = joinCode }
        let screenKey = access.screenKey ?? AccessCodes.newSecret()
        access.screenKey = screenKey
        try store.setAccess(access, to: session.id)
        let host = LANAddress.forParticipants(bind: options.bind)
        let sessionLanguage = await session.state.created.deck.language
        let language = options.language ?? sessionLanguage ?? .en
        let room = await MeetingRoom(
            session: session, access: access, screenKey: screenKey, participantURL: "http://\(host):\(options.port)/",
            onePerPrompt: await !session.state.created.deck.severalPerPrompt, language: language)
        await room.setProgramme(try await programmeView(of: session, in: store))
        return room
    }

    /// Serves until SIGINT or SIGTERM, then closes every connection and returns. Every
    /// acknowledged reflection is already on disk, so stopping loses nothing.
    public static func run(
        _ room: MeetingRoom, store: TranscriptStore, options: HostOptions, logger: Logger,
        ready: @escaping @Sendable (HostBanner) -> Void, say: @escaping @Sendable (String) -> Void
    ) async throws {
        let (listening, listeningSink) = AsyncStream<Int>.makeStream()
        // Other nodes are listened for once the web server listens, so a port clash names the web port.
        let (webListening, webSink) = AsyncStream<Void>.makeStream()
        let router = Routes.router(for: room, pages: try Pages(), limits: options.limits)
        ServingLimits.raiseFileLimit()
        let secret = room.access.facilitatorSecret
        let base = room.links.participantURL
        let state = await room.session.state
        let app = Application(
            router: router,
            server: server(router: router, limits: options.limits),
            configuration: serverConfiguration(bind: options.bind, port: options.port, limits: options.limits),
            onServerRunning: { channel in
                listeningSink.yield(channel.localAddress?.port ?? options.port)
                webSink.yield()
                webSink.finish()
            },
            logger: logger
        )
        let key = room.session.nodeKey
        // On the LAN, a name new at every meeting; to the other nodes, the name it was admitted under.
        let announced = options.name ?? Presence.announcedName(for: key.publicKey, in: room.session.id)
        let name = options.name ?? state.nodeNames[key.publicKey] ?? announced
        let replicator = Replicator(
            session: room.session, identity: try PeerTransportIdentity(key: key), name: name,
            participantURL: room.session.acceptsReflections ? base : nil,
            joinCode: room.access.joinCode, say: say)
        await room.attach(replicator)
        if let known = options.knownPeer { await replicator.remember(known.key, host: known.host, port: known.port) }
        let (peerListening, peerSink) = AsyncStream<Int>.makeStream()
        let banner = HostBanner(
            title: state.created.title, sessionID: room.session.id, participantURL: base,
            joinCode: AccessCodes.display(room.access.joinCode), joinURL: room.joinURL,
            consoleURL: base + "facilitate#key=" + secret, screenURL: base + room.links.screenLink,
            qr: QRCode(room.joinURL), programme: state.created.programme)
        // The banner is printed once both ports listen: a node that cannot listen for other
        // nodes stops before anyone is told to open it. The default peer port (--port + 1) may
        // be taken by another program; then any free port is used, and printed. A node that
        // joined another has already told it port + 1, so it keeps to that.
        let peers = PeerService(
            replicator: replicator, after: webListening, bind: options.bind, port: options.peerPort ?? options.port + 1,
            anyIfTaken: options.peerPort == nil && options.knownPeer == nil,
            bound: { p in
                peerSink.yield(p)
                peerSink.finish()
                ready(banner)
                say(
                    "Other Halqa nodes reach this one at \(LANAddress.forParticipants(bind: options.bind)):\(p) (its key in this session: \(key.publicKey.fingerprint))."
                )
            })
        let presence = PresenceService(
            name: announced, key: key.publicKey,
            session: room.session.id, listening: listening, peerListening: peerListening, participantURL: base, say: say,
            seen: { tag, host, peerPort in await replicator.seen(nodeTag: tag, host: host, peerPort: peerPort) })
        var services: [any Service] = [app, RoomService(room: room, cadence: options.resonanceCadence), peers]
        if options.discovery { services.append(presence) } else { listeningSink.finish() }
        var configuration = ServiceGroupConfiguration(
            services: services.map { ServiceGroupConfiguration.ServiceConfiguration(service: $0) },
            gracefulShutdownSignals: [.sigterm, .sigint, .sighup], logger: logger)
        // A node asked to stop stops: a connection a page opens at the wrong moment can hold the
        // server's graceful shutdown open (seen in about one stop in ten with a page
        // reconnecting), so after 5 s what is left is cancelled. Every acknowledged reflection
        // is already on disk.
        configuration.maximumGracefulShutdownDuration = .seconds(5)
        let group = ServiceGroup(configuration: configuration)
        await room.whenWiped {
            say("The session was wiped from this laptop from the console. Stopping.")
            await group.triggerGracefulShutdown()
        }
        do {
            try await group.run()
        } catch let error as IOError where error.errnoCode == EADDRINUSE {
            throw HostError(
                message:
                    "Port \(options.port) is already in use, by another Halqa or another program. Choose another with --port, for example --port \(options.port + 1)."
            )
        } catch let error as IOError where error.errnoCode == EADDRNOTAVAIL {
            throw HostError(
                message:
                    "This machine has no address \(options.bind). Leave out --bind to listen on every network, or give one of: \(LANAddress.all().joined(separator: ", "))."
            )
        }
        await store.checkpoint()
    }
}

/// Runs the node-to-node side: listens for other nodes and calls admitted ones.
struct PeerService: Service {
    let replicator: Replicator
    /// Ends (or yields) once the web server listens.
    let after: AsyncStream<Void>
    let bind: String
    let port: Int
    /// Whether another free port may be used when `port` is taken (it was not chosen).
    let anyIfTaken: Bool
    let bound: @Sendable (Int) -> Void

    func run() async throws {
        try await cancelWhenGracefulShutdown {
            var web = after.makeAsyncIterator()
            guard await web.next() != nil else { return }
            do {
                try await listen(on: port)
            } catch let error as IOError where error.errnoCode == EADDRINUSE && anyIfTaken && port != 0 {
                try await listen(on: 0)
            }
        }
    }

    private func listen(on port: Int) async throws {
        do {
            try await replicator.run(host: bind, port: port, bound: bound)
        } catch is CancellationError {
        } catch let error as IOError where error.errnoCode == EADDRINUSE && !anyIfTaken {
            throw HostError(message: "Port \(port), for other Halqa nodes, is already in use. Choose another with --peer-port.")
        }
    }
}

/// Publishes resonance counts to the room at a fixed cadence, tells the console of phones'
/// arrivals, and closes the live connections when the node is asked to stop, so the server
/// can finish.
struct RoomService: Service {
    let room: MeetingRoom
    let cadence: Duration

    func run() async throws {
        await cancelWhenGracefulShutdown {
            await withDiscardingTaskGroup { group in
                group.addTask {
                    while (try? await Task.sleep(for: .milliseconds(50))) != nil { await room.flushArrivals() }
                }
                // Taps reach the room in batches at this cadence, never at the moment of a tap.
                while (try? await Task.sleep(for: cadence)) != nil {
                    await room.publishResonance()
                }
                group.cancelAll()
            }
        }
        await room.closeAll()
    }
}
