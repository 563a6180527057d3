import Meeting

/// What every participant's page shows: no per-person fields, so one copy goes to all.
struct ParticipantView: Codable, Sendable, Equatable {
    struct Session: Codable, Sendable, Equatable {
        var title: String
        /// The title in each language of the deck, when the session took the deck's title
        /// (a title the facilitator typed is shown as typed, in `title`).
        var titles: [String: String]
        var languages: [String]
        var closed: Bool
        var minimumToReveal: Int
    }
    struct PromptView: Codable, Sendable, Equatable {
        /// 0-based index, as the API takes it.
        var index: Int
        var number: Int
        var text: [String: String]
        var timeBoxSeconds: Int?
        var status: String
        /// Set for a check-in: "faces" or "agree", answered by one tap on a picture.
        var scale: String?
    }
    struct Shown: Codable, Sendable, Equatable {
        var id: String
        var text: String
        var resonance: Int
    }
    /// A check-in's revealed answers: counts per option and the node's chart of them. Counts
    /// change only when a reveal shows a batch, never when one phone answers.
    struct CheckInView: Codable, Sendable, Equatable {
        var counts: [Int]
        var chart: String
    }
    var version: Int
    /// The node's run the version counts in (``RoomFeed``): new each time the node starts.
    var epoch = ""
    var session: Session
    /// The open prompt, or else the one most recently closed; nil before the first opens.
    var prompt: PromptView?
    /// That prompt's revealed reflections, in the order the room sees them; hidden ones left
    /// out. Empty for a check-in, whose answers are only counted (``checkIn``).
    var revealed: [Shown]
    /// For a check-in with revealed answers: their counts and chart.
    var checkIn: CheckInView?
    /// Other nodes of this session whose pages a participant can move to if this one stops.
    var nodes: [String] = []

    init(_ state: SessionState, version: Int) {
        self.version = version
        let languages = Set(state.created.deck.prompts.flatMap(\.text.languages)).sorted().map(\.rawValue)
        session = Session(
            title: state.created.title,
            titles: state.titles,
            languages: languages, closed: state.isClosed,
            minimumToReveal: state.created.minimumToReveal)
        let current =
            state.openPrompt
            ?? state.prompts.indices.filter { state.prompts[$0].closedAt != nil }
            .max { (state.prompts[$0].closedAt ?? 0, $0) < (state.prompts[$1].closedAt ?? 0, $1) }
        if let index = current {
            let p = state.created.deck.prompts[index]
            prompt = PromptView(
                index: index, number: index + 1, text: p.text.dictionary, timeBoxSeconds: p.timeBox,
                status: state.prompts[index].status.rawValue, scale: p.scale?.rawValue)
            if let counts = state.checkInCounts(prompt: index) {
                revealed = []
                checkIn = counts.reduce(0, +) > 0 ? CheckInView(counts: counts, chart: CheckInChart.svg(counts)) : nil
            } else {
                revealed = state.revealed(prompt: index).filter { $0.hiddenReason == nil }
                    .map { Shown(id: $0.id.hex, text: $0.text, resonance: $0.resonance) }
            }
        } else {
            prompt = nil
            revealed = []
        }
    }
}

extension SessionState {
    /// The title in each language of the deck, when the session took the deck's title (a
    /// title the facilitator typed is shown as typed).
    var titles: [String: String] {
        created.title == created.deck.title.preferring(.en) ? created.deck.title.dictionary : [:]
    }
}

/// What `GET /api/session` adds for one participant: what this token already did.
struct ParticipantSessionResponse: Codable, Sendable {
    var state: ParticipantView
    var wrote: Bool
    var resonated: [String]
}

/// What the facilitator's console shows.
struct ConsoleView: Codable, Sendable {
    struct PromptEntry: Codable, Sendable {
        var index: Int
        var number: Int
        var text: [String: String]
        var timeBoxSeconds: Int?
        /// The facilitator's note in each language the deck has it in.
        var facilitatorNote: [String: String]?
        var status: String
        /// Milliseconds since 1970, on the facilitator's clock, when it was opened.
        var openedAt: Int64?
        /// How many reflections (or a check-in's answers) wait to be revealed: a count, never their text.
        var pending: Int
        var revealed: [Shown]
        var notes: [String]
        /// Set for a check-in: "faces" or "agree".
        var scale: String?
        /// A check-in's revealed answers counted per option (none for a written prompt).
        var counts: [Int]?
    }
    struct Shown: Codable, Sendable {
        var id: String
        var text: String
        var resonance: Int
        var hiddenReason: String?
    }
    var version: Int
    var sessionID: String
    var title: String
    /// The title in each language of the deck, when the session took the deck's title.
    var titles: [String: String]
    /// Who the deck is for ("men", "women", "everyone"), when it says.
    var audience: String?
    var closed: Bool
    var minimumToReveal: Int
    var openPrompt: Int?
    var prompts: [PromptEntry]
    var sessionNotes: [String]
    var joinCode: String
    var participantURL: String
    /// The projector's link (with its own read-only key), relative to the node.
    var screenURL: String
    var qr: QRMatrix
    /// The node's clock, so the page can show time boxes even if the device's clock is off.
    var now: Int64
    /// The digest of the session's events as a short code: equal on two nodes, same meeting.
    var digest: String
    /// Other nodes: waiting to be admitted, admitted, and whether this node is the only copy.
    var nodes: Replicator.Status?
    /// This node's role: "co-facilitator" (may run the meeting) or "archivist" (watches).
    var role: String = "co-facilitator"
    /// How many phones (by address) said their browser cannot seal, and so sent nothing.
    var unsealablePhones = 0
    /// The session's place in a programme ("week 4 of 12"), with the last week's check-ins.
    var programme: ProgrammeView?

    struct ProgrammeView: Codable, Sendable {
        var title: [String: String]
        var group: String
        var week: Int
        var weeks: Int
        /// The check-ins of the group's previous week, as counts (none if this node holds no session of that week).
        var lastWeek: [CheckIn]

        struct CheckIn: Codable, Sendable {
            var number: Int
            var text: [String: String]
            var scale: String
            var counts: [Int]
        }
    }

    init(_ state: SessionState, version: Int, links: Links, now: Int64) {
        self.version = version
        sessionID = state.id.hex
        title = state.created.title
        titles = state.titles
        audience = state.created.deck.audience?.rawValue
        closed = state.isClosed
        minimumToReveal = state.created.minimumToReveal
        openPrompt = state.openPrompt
        prompts = state.created.deck.prompts.enumerated().map { i, p in
            PromptEntry(
                index: i, number: i + 1, text: p.text.dictionary, timeBoxSeconds: p.timeBox, facilitatorNote: p.facilitatorNote?.dictionary,
                status: state.prompts[i].status.rawValue, openedAt: state.prompts[i].openedAt,
                pending: state.pendingCount(prompt: i),
                revealed: p.isCheckIn
                    ? []
                    : state.revealed(prompt: i).map {
                        Shown(id: $0.id.hex, text: $0.text, resonance: $0.resonance, hiddenReason: $0.hiddenReason)
                    },
                notes: state.notes.filter { $0.prompt == i }.map(\.text), scale: p.scale?.rawValue, counts: state.checkInCounts(prompt: i))
        }
        sessionNotes = state.notes.filter { $0.prompt == nil }.map(\.text)
        joinCode = AccessCodes.display(links.joinCode)
        participantURL = links.participantURL
        screenURL = "/" + links.screenLink
        qr = links.qr
        self.now = now
        var replica = Replica(state: state, role: .coFacilitator)
        digest = replica.digest.short
    }
}

/// What the projector shows: the participants' view, with the way in.
struct ScreenView: Codable, Sendable {
    var state: ParticipantView
    var joinCode: String
    var participantURL: String
    var qr: QRMatrix
}

/// A QR code as rows of "1" (dark) and "0", small enough to send and easy to draw.
struct QRMatrix: Codable, Sendable {
    var size: Int
    var rows: [String]

    init(_ code: QRCode?) {
        guard let code else {
            size = 0
            rows = []
            return
        }
        size = code.size
        rows = (0..<code.size).map { y in String((0..<code.size).map { code.isDark(x: $0, y: y) ? "1" : "0" }) }
    }
}

/// How people reach a hosted session.
struct Links: Sendable {
    var joinCode: String
    /// What the participants type or scan, without the code: `http://198.18.0.1:8080/`.
    var participantURL: String
    /// The join link's ticket (``AccessCodes/ticket(roomKey:)``).
    var ticket: String
    /// The room's public key, which signs each node's key to seal to (``Sealing``).
    var roomPublicKey: String
    /// The QR code's URL carries the ticket in the fragment, which browsers never send to the
    /// node, and never the join code itself, so a phone's history does not keep the code; and
    /// the room's public key, so a phone that scanned it takes a key to seal to only if the
    /// room signed it. Neither ever travels in the clear.
    var joinURL: String { participantURL + "#k=" + ticket + "&r=" + roomPublicKey }
    /// The projector's key: it opens the room's view and nothing else.
    var screenKey: String
    /// The projector's link, relative to the participants' address: `screen#key=...`.
    var screenLink: String { "screen#key=" + screenKey }
    var qr: QRMatrix
}
