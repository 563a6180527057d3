import Foundation

/// The archive's reports for monitoring and evaluation (docs/archive.md, "Reports"): CSV in
/// UTF-8 with a byte-order mark, so Excel shows Urdu and Pashto, with stable ids to join on.
/// Nothing in them identifies a participant: a reflection's row holds its text, its prompt and
/// its resonance, as the room saw them.
public enum ArchiveReport: String, CaseIterable, Sendable {
    /// One row per session.
    case sessions
    /// One row per check-in of a session: its answers counted per option.
    case checkins
    /// One row per revealed reflection (hidden ones left out).
    case reflections

    public var fileName: String { rawValue + ".csv" }

    /// The header row's columns, as docs/archive.md lists them.
    public var columns: [String] {
        switch self {
        case .sessions:
            [
                "session_id", "title", "group", "programme", "week", "weeks", "date", "started_at", "closed_at", "duration_minutes",
                "language", "phones", "prompts", "prompts_held", "reflections", "checkin_answers", "reflections_per_prompt",
            ]
        case .checkins:
            ["prompt_id", "session_id", "prompt_number", "prompt", "scale", "answers"]
                + (CheckInScale.faces.optionNames + CheckInScale.agree.optionNames).map { $0.replacingOccurrences(of: "-", with: "_") }
        case .reflections: ["reflection_id", "session_id", "prompt_id", "prompt_number", "language", "text", "resonance"]
        }
    }

    /// The byte-order mark and the header row.
    public var head: String { "\u{FEFF}" + CSV.row(columns) }

    /// The rows of one session (a ``reflections`` report needs its state; the others only
    /// its entry).
    public func rows(_ entry: ArchiveEntry, state: @autoclosure () throws(MeetingError) -> SessionState) throws(MeetingError) -> [String] {
        switch self {
        case .sessions:
            return [
                CSV.row([
                    entry.id, entry.title, entry.group ?? "", entry.programmeName ?? "", entry.week.map(String.init) ?? "",
                    entry.weeks.map(String.init) ?? "", String(Transcript.timestamp(entry.createdAt).prefix(10)),
                    Transcript.timestamp(entry.createdAt),
                    entry.closedAt.map(Transcript.timestamp) ?? "", entry.minutes.map(String.init) ?? "", entry.language, "\(entry.phones)",
                    "\(entry.prompts)", "\(entry.promptsHeld)", "\(entry.reflections)", "\(entry.answers)",
                    entry.perPrompt.filter { $0.scale == nil }.map { "\($0.number):\($0.reflections)" }.joined(separator: ";"),
                ])
            ]
        case .checkins:
            var out: [String] = []
            for prompt in entry.perPrompt {
                guard let scale = prompt.scale.flatMap(CheckInScale.init(rawValue:)), let counts = prompt.counts else { continue }
                let faces = scale == .faces ? counts.map(String.init) : Array(repeating: "", count: 5)
                let agree = scale == .agree ? counts.map(String.init) : Array(repeating: "", count: 3)
                out.append(
                    CSV.row(
                        [
                            "\(entry.id)-\(prompt.number)", entry.id, "\(prompt.number)", CSV.text(prompt.text, entry.language),
                            scale.rawValue,
                            "\(counts.reduce(0, +))",
                        ] + faces + agree))
            }
            return out
        case .reflections:
            let state = try state()
            var out: [String] = []
            for (i, prompt) in state.created.deck.prompts.enumerated() where !prompt.isCheckIn {
                for r in state.revealed(prompt: i) where r.hiddenReason == nil {
                    out.append(CSV.row([r.id.hex, entry.id, "\(entry.id)-\(i + 1)", "\(i + 1)", entry.language, r.text, "\(r.resonance)"]))
                }
            }
            return out
        }
    }
}

/// RFC 4180 rows, made safe to open in a spreadsheet.
enum CSV {
    /// One row, ending CRLF. A field is quoted when it holds a comma, a quote or a line break;
    /// one that a spreadsheet could read as a formula (=, +, -, @ or their full-width forms
    /// first, after any spaces, line breaks or direction marks; or a tab or line break first)
    /// gets a leading apostrophe, so a reflection can never run as a formula on an organiser's laptop.
    static func row(_ fields: [String]) -> String {
        fields.map(field).joined(separator: ",") + "\r\n"
    }

    static func field(_ text: String) -> String {
        var text = text
        // Looked for past leading spaces, line breaks and direction marks, in ASCII and full width.
        let first = text.unicodeScalars.first {
            !($0.properties.isWhitespace || (0x200B...0x200F).contains($0.value) || $0.value == 0x061C
                || (0x202A...0x202E).contains($0.value) || (0x2066...0x2069).contains($0.value) || $0.value == 0xFEFF)
        }
        if let first,
            "=+-@\u{FF1D}\u{FF0B}\u{FF0D}\u{FF20}".unicodeScalars.contains(first)
                || text.unicodeScalars.first.map({ "\t\r\n".unicodeScalars.contains($0) }) == true
        {
            text = "'" + text
        }
        guard text.contains(where: { $0 == "," || $0 == "\"" || $0.isNewline }) else { return text }
        return "\"" + text.replacingOccurrences(of: "\"", with: "\"\"") + "\""
    }

    /// A prompt's text in the session's language, else as its readers would read next.
    static func text(_ texts: [String: String], _ language: String) -> String {
        LocalizedText(dictionary: texts).preferring(Language(rawValue: language) ?? .en)
    }
}

extension TranscriptStore {
    /// Writes `report` of the sessions `filter` picks, oldest first, in pieces of about a
    /// megabyte (a year's reflections do not fit in memory at once); returns the rows written.
    public func write(
        _ report: ArchiveReport, _ filter: ArchiveFilter = .init(), to sink: (String) async throws -> Void
    ) async throws -> Int {
        var piece = report.head
        var rows = 0
        for entry in try archiveAll(filter) {
            let more = try report.rows(entry, state: try self.state(of: EventID(hex: entry.id)!))
            rows += more.count
            piece += more.joined()
            if piece.utf8.count > 1 << 20 {
                try await sink(piece)
                piece = ""
            }
        }
        try await sink(piece)
        return rows
    }
}
