import Foundation

/// A session's transcript as organisers carry it: readable fields, and the signed events
/// they were derived from, so another node can verify and merge it.
///
/// Its JSON form is documented in `docs/transcript.schema.json`. Pending reflections,
/// hidden reflections and the reasons for hiding are never in it.
public struct Transcript: Codable, Hashable, Sendable {
    public static let formatName = "halqa-transcript"

    public var format: String
    public var version: Int
    public var session: Session
    public var prompts: [PromptEntry]
    /// Notes on the whole session, in the order they were written.
    public var notes: [NoteEntry]
    /// The canonical bytes of every exported event, base64, sorted by event id.
    public var events: [String]

    public struct Session: Codable, Hashable, Sendable {
        public var id: String
        public var title: String
        public var deckTitle: [String: String]
        public var createdAt: String
        public var closedAt: String?
        public var minimumToReveal: Int
        /// When the session is a week of a programme: its title, the group and the week.
        public var programme: ProgrammeEntry?
    }

    public struct ProgrammeEntry: Codable, Hashable, Sendable {
        public var title: [String: String]
        public var group: String
        public var week: Int
        public var weeks: Int
    }

    public struct PromptEntry: Codable, Hashable, Sendable {
        public var number: Int
        public var text: [String: String]
        public var timeBoxSeconds: Int?
        public var facilitatorNote: String?
        /// "waiting" (never opened), "open" or "closed".
        public var status: String
        /// Revealed reflections in the order the room saw them; hidden ones left out. Empty
        /// for a check-in, whose answers are only counted (``checkIn``).
        public var reflections: [ReflectionEntry]
        public var notes: [NoteEntry]
        /// For a check-in: its scale and the revealed answers counted per option.
        public var checkIn: CheckInEntry?
    }

    /// A check-in's answers as the room saw them: counts per option, never who or when.
    public struct CheckInEntry: Codable, Hashable, Sendable {
        /// "faces" or "agree" (docs/decks.md).
        public var scale: String
        /// Each option's name ("very-bad" … "very-good"; "agree", "partly", "disagree") and
        /// how many answered it, in the scale's order.
        public var counts: [OptionCount]
    }

    public struct OptionCount: Codable, Hashable, Sendable {
        public var option: String
        public var count: Int
    }

    public struct ReflectionEntry: Codable, Hashable, Sendable {
        public var text: String
        public var resonance: Int
    }

    public struct NoteEntry: Codable, Hashable, Sendable {
        public var text: String
        public var writtenAt: String
    }

    /// The transcript of `state`.
    public init(_ state: SessionState) {
        self.init(readableOf: state)
        events = state.exportableEvents.map { Data($0.bytes).base64EncodedString() }
    }

    /// The transcript of `state` without its events: what a file's readable part must be.
    private init(readableOf state: SessionState) {
        format = Transcript.formatName
        version = 1
        session = Session(
            id: state.id.hex, title: state.created.title,
            deckTitle: state.created.deck.title.dictionary,
            createdAt: Transcript.timestamp(state.createdAt),
            closedAt: state.closedAt.map(Transcript.timestamp),
            minimumToReveal: state.created.minimumToReveal,
            programme: state.created.programme.map {
                ProgrammeEntry(title: $0.title.dictionary, group: $0.group, week: $0.week, weeks: $0.weeks)
            })
        let notes = state.notes.sorted { ($0.at, $0.id) < ($1.at, $1.id) }
        func entries(_ prompt: Int?) -> [NoteEntry] {
            notes.filter { $0.prompt == prompt }.map { NoteEntry(text: $0.text, writtenAt: Transcript.timestamp($0.at)) }
        }
        prompts = state.created.deck.prompts.enumerated().map { i, p in
            PromptEntry(
                number: i + 1, text: p.text.dictionary, timeBoxSeconds: p.timeBox, facilitatorNote: p.facilitatorNote?.preferring(.en),
                status: state.prompts[i].status.rawValue,
                reflections: p.isCheckIn
                    ? []
                    : state.revealed(prompt: i).filter { $0.hiddenReason == nil }.map {
                        ReflectionEntry(text: $0.text, resonance: $0.resonance)
                    },
                notes: entries(i),
                checkIn: p.scale.map { scale in
                    let counts = state.checkInCounts(prompt: i) ?? []
                    return CheckInEntry(
                        scale: scale.rawValue,
                        counts: zip(scale.optionNames, counts).map { OptionCount(option: $0, count: $1) })
                })
        }
        self.notes = entries(nil)
        events = []
    }

    /// "2026-03-21T17:05:00Z", as transcripts write times.
    public static func timestamp(_ ms: Int64) -> String {
        Date(timeIntervalSince1970: Double(ms) / 1000).formatted(.iso8601)
    }

    // MARK: JSON

    /// The JSON bytes: pretty-printed with sorted keys, so the same transcript is always the
    /// same bytes.
    public func json() -> Data {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
        // Encoding plain strings, numbers and arrays cannot fail.
        var data = try! encoder.encode(self)
        data.append(UInt8(ascii: "\n"))
        return data
    }

    /// Reads and verifies a transcript file: its events must all be valid and signed, and
    /// its readable part must be exactly what those events say. Returns the session they
    /// make (the readable part, once checked, says nothing more).
    public static func verified(from data: Data) async throws(MeetingError) -> SessionState {
        let (readable, events) = try await read(data)
        let state = try await SessionState.verifying(events)
        try check(readable, events, against: state)
        return state
    }

    /// A transcript file's readable part (its `events` left empty) and its events, decoded on
    /// every core and each canonical; nothing is verified yet. A file as ``json()`` writes it
    /// is split first (``TranscriptFile``): its events are read from the bytes while Foundation's
    /// decoder reads the rest beside them.
    static func read(_ data: Data) async throws(MeetingError) -> (Transcript, [Event]) {
        guard data.count <= Limits.transcriptBytes else {
            throw MeetingError(
                .invalidTranscript, "The file is \(data.count) bytes; a transcript may be at most \(Limits.transcriptBytes).")
        }
        let file = TranscriptFile(data)
        // Foundation's decoder makes something of every value it is given before any can be
        // refused: the whole file, or the readable part of one split.
        let items = TranscriptFile.items(in: file?.readable ?? data)
        guard items <= mostItems(inBytes: data.count) else {
            throw MeetingError(
                .invalidTranscript,
                "The file holds \(items) items, more than a transcript of its size can: it was damaged or made by another program. Nothing was imported."
            )
        }
        guard let file else {
            var transcript = try checkedTranscript(data)
            let texts = transcript.events
            let short = texts.firstIndex { TranscriptFile.isShort($0.utf8.count) }
            let events = try await decode(texts.count, before: short) { i in Base64Spelling.decode(texts[i]) }
            transcript.events = []
            return (transcript, events)
        }
        async let readablePart = Result { () throws(MeetingError) -> Transcript in try checkedTranscript(file.readable) }
        let events: Result<[Event], MeetingError>
        do throws(MeetingError) {
            events = .success(
                try await decode(file.eventCount, before: file.shortEvent) { i in
                    data.withUnsafeBytes { raw in
                        Base64Spelling.decode(UnsafeBufferPointer(rebasing: raw.assumingMemoryBound(to: UInt8.self)[file.events[i]]))
                    }
                })
        } catch {
            events = .failure(error)
        }
        // What is wrong with the readable part (not a transcript, another format) is said first.
        return (try await readablePart.get(), try events.get())
    }

    /// The most items (``TranscriptFile/items(in:)``) a transcript file of `size` bytes may
    /// hold: as many events as fit in it, each with a few readable items beside it. An export
    /// holds about one in 100 bytes: every reflection's entry stands beside its event of 400
    /// letters or more.
    static func mostItems(inBytes size: Int) -> Int { 4 * size / TranscriptFile.shortestEvent + 10_000 }

    /// A transcript decoded from JSON (a whole file, or its readable part with the events cut
    /// out), its format and version checked.
    private static func checkedTranscript(_ data: Data) throws(MeetingError) -> Transcript {
        let transcript: Transcript
        do {
            transcript = try JSONDecoder().decode(Transcript.self, from: data)
        } catch {
            throw MeetingError(
                .invalidTranscript, "This is not a Halqa transcript (JSON from `halqa export --format json`): \(Transcript.describe(error))"
            )
        }
        guard transcript.format == formatName else {
            throw MeetingError(
                .invalidTranscript,
                "The file's format is \"\(transcript.format)\", not \"\(formatName)\". Export it with `halqa export SESSION --format json`."
            )
        }
        guard transcript.version == 1 else {
            throw MeetingError(
                .invalidTranscript, "The transcript is format version \(transcript.version); this Halqa reads version 1. Update Halqa.")
        }
        return transcript
    }

    /// The `count` events whose bytes `bytes(i)` reads from their base64 (nil: not base64 as
    /// Halqa writes it), decoded on every core, or why the first that is not one is not; the
    /// one at `short` is too short to be an event, and those after it are not read. A window
    /// at a time, so that a file of millions of strings that are not events is refused at the
    /// first window, not after all of them (each failure held until then).
    private static func decode(
        _ count: Int, before short: Int?, _ bytes: @escaping @Sendable (Int) -> [UInt8]?
    ) async throws(MeetingError) -> [Event] {
        func refused(_ i: Int, _ what: String) -> MeetingError {
            MeetingError(.invalidTranscript, "Event \(i + 1) of \(count) \(what) The file was damaged or edited; nothing was imported.")
        }
        let read = short ?? count
        let window = 1 << 16
        var events: [Event] = []
        events.reserveCapacity(read)
        for start in stride(from: 0, to: read, by: window) {
            let decoded = await Concurrently.map(Array(start..<min(start + window, read))) { i -> Event? in
                // The one spelling of the bytes, as `init(_:)` writes them: `check` compares the events' ids.
                bytes(i).flatMap { try? Event(bytes: $0) }
            }
            for (k, event) in decoded.enumerated() {
                if let event {
                    events.append(event)
                    continue
                }
                // The first that is not an event, read again to say why.
                let i = start + k
                guard let raw = bytes(i) else { throw refused(i, "is not base64 as Halqa writes it.") }
                do throws(MeetingError) {
                    events.append(try Event(bytes: raw))
                } catch {
                    throw refused(i, "is not valid (\(error.message))")
                }
            }
        }
        if let short { throw refused(short, "is too short to be an event.") }
        return events
    }

    /// Whether `state`, folded from the file's `events`, took every one of them and says what
    /// the file's readable part says; if not, why.
    static func check(_ readable: Transcript, _ events: [Event], against state: SessionState) throws(MeetingError) {
        if let (id, reason) = state.ignored.first {
            throw MeetingError(
                .invalidTranscript,
                "Event \(id.short) does not check (\(reason.message)). The file was damaged or edited; nothing was imported.")
        }
        // The events are compared by id (a hash of the bytes, in the file's order), not encoded again.
        guard Transcript(readableOf: state) == readable, state.exports(exactly: events) else {
            throw MeetingError(
                .invalidTranscript,
                "The readable part of this transcript does not match its signed events, so it was edited after export. Nothing was imported; export it again from a node that holds the session."
            )
        }
    }

    static func describe(_ error: any Error) -> String {
        switch error {
        case DecodingError.keyNotFound(let key, _): "the field \"\(key.stringValue)\" is missing."
        case DecodingError.typeMismatch(_, let c), DecodingError.valueNotFound(_, let c):
            "the field \"\(c.codingPath.map(\.stringValue).joined(separator: "."))\" has the wrong type."
        case DecodingError.dataCorrupted: "it is not valid JSON."
        default: "\(error)"
        }
    }
}

extension LocalizedText {
    /// The texts keyed by language code (`"en"`, `"ur"`, `"ps"`), as JSON carries them.
    public var dictionary: [String: String] { Dictionary(uniqueKeysWithValues: texts.map { ($0.key.rawValue, $0.value) }) }

    /// The texts of a ``dictionary`` (codes that are no language of Halqa's left out).
    public init(dictionary: [String: String]) {
        self.init(Dictionary(uniqueKeysWithValues: dictionary.compactMap { key, value in Language(rawValue: key).map { ($0, value) } }))
    }
}

extension TranscriptStore {
    /// What an import did.
    public struct ImportResult: Sendable {
        public var session: EventID
        public var title: String
        public var events: Int
        public var newEvents: Int
        /// Whether this store held some of the session before.
        public var merged: Bool = false
    }

    /// Verifies a transcript and merges its events into this store. Events already held are
    /// not stored twice; an invalid file changes nothing.
    ///
    /// The session is written while the end of its signatures' check is near (within 2 s at the
    /// check's pace so far), and committed only once every one checks (``SignatureGate``): a
    /// large file takes little more than its verification.
    /// A file that does not check is refused with the reason ``Transcript/verified(from:)``
    /// gives, and nothing of it is kept.
    public func importTranscript(_ data: Data) async throws(MeetingError) -> ImportResult {
        let (transcript, events) = try await Transcript.read(data)
        let progress = CheckProgress()
        let (folded, signed) = try await SessionState.foldingWhileVerifying(events, progress: progress)
        let result = await withTaskCancellationHandler {
            // What the events say if every signature checks must be what the file says.
            (try? Transcript.check(transcript, events, against: folded)) != nil
                ? await importVerified([folded], gate: SignatureGate(signed, progress: progress))[0] : nil
        } onCancel: {
            signed.cancel()
        }
        if let result {
            Concurrently.free((consume events, consume folded))
            return try result.get()
        }
        // Refused: the whole check of the events already read, in order, says why.
        signed.cancel()
        try Transcript.check(transcript, events, against: try await SessionState.verifying(events))
        throw MeetingError(.storage, "The transcript checks but could not be stored. Try again; nothing was half-imported.")
    }

    /// Merges sessions, none the same as another, stored together (``save(all:)``); what each
    /// came to, or why it was not stored, whatever became of the others. They are verified
    /// (``Transcript/verified(from:)``), or folded as if every signature checks while `gate`
    /// checks them: then they are planned at once, written once the check is near its end
    /// (``SignatureGate/nearEnd()``), and committed only once it opens; if it does not, nothing
    /// is written and each result is nil.
    func importVerified(_ sessions: [SessionState], gate: SignatureGate? = nil) async -> [Result<ImportResult, MeetingError>?] {
        var results = [Result<ImportResult, MeetingError>?](repeating: nil, count: sessions.count)
        var plans: [(index: Int, write: SessionWrite, result: ImportResult)] = []
        for (i, state) in sessions.enumerated() {
            do throws(MeetingError) {
                let plan = try importPlan(state)
                plans.append((i, plan.write, plan.result))
            } catch {
                results[i] = .failure(error)
            }
        }
        if let gate {
            // Planned while the signatures are checked; written once their check is near its
            // end, and not at all if it has already failed.
            await gate.nearEnd()
            if gate.checkEnded, await !gate.passed { return sessions.map { _ in nil } }
        }
        var errors = await save(all: plans.map(\.write), gate: gate)
        if let gate {
            guard await gate.passed else { return sessions.map { _ in nil } }
            // Checked only after the writer stopped waiting: what it wrote was rolled back.
            if gate.gaveUp { errors = await save(all: plans.map(\.write)) }
        }
        for (plan, error) in zip(plans, errors) {
            do throws(MeetingError) {
                if let error { throw error }
                try await settle(plan.write.state)
                results[plan.index] = .success(plan.result)
            } catch {
                results[plan.index] = .failure(error)
            }
        }
        return results
    }

    /// What merging a verified session writes (its events this store lacks, with the session
    /// they make together) and what that comes to; nothing is written yet.
    func importPlan(_ imported: SessionState) throws(MeetingError) -> (write: SessionWrite, result: ImportResult) {
        // A session `halqa.sqlite` holds nothing of (most of what an import brings) is not
        // read back from it: only the pending file could have some of its events.
        let placed = try !holds(imported.id)
        let held = try events(of: imported.id, main: !placed)
        // A session new here is what was imported; one held takes what it lacked.
        var merged = imported
        var fresh = imported.allEvents
        if !held.isEmpty {
            let heldIDs = Set(held.map(\.id))
            fresh = fresh.filter { !heldIDs.contains($0.id) }
            if placed {
                // Only pending events of it are here (left by a wipe of everything while phones
                // were written to): no start to fold them from, so folded with what arrived.
                merged = try SessionState(events: held + fresh, verifySignatures: false)
            } else {
                merged = try SessionState(events: held, verifySignatures: false)
                for event in fresh { merged.insert(event) }
            }
        }
        return (
            SessionWrite(fresh, resulting: merged, roomSecret: nil, sessionKey: nil, placed: placed),
            ImportResult(
                session: imported.id, title: imported.created.title, events: imported.allEvents.count, newEvents: fresh.count,
                merged: !held.isEmpty)
        )
    }
}
