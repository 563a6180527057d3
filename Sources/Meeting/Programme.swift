import Foundation

/// A course a group follows week after week: an ordered list of decks, one per week, with a
/// title in up to three languages (docs/decks.md, "Programmes").
///
/// ```
/// title: MOVE: Men Overcoming Violence for Equality
/// title.ur: موو: برابری کے لیے تشدد پر قابو پانے والے مرد
/// week 1: move/01-seeing-myself.deck
/// week 2: move/02-hidden-feelings.deck
/// ```
public struct Programme: Sendable {
    public var title: LocalizedText
    /// Week 1 first; each deck's path as written, and resolved next to the programme file.
    public var weeks: [Week]

    public struct Week: Sendable {
        public var number: Int
        public var path: String
        public var deck: Deck
    }
}

/// Where a session stands in a programme: kept in the session (its first event), so every
/// node that holds the session knows the group and the week, and the next week follows on
/// whichever laptop hosts it. Never broadcast on the network (design, invariant 5).
public struct ProgrammePlace: Hashable, Sendable {
    /// The programme's title, in each language it has.
    public var title: LocalizedText
    /// The group's label, as the organiser chose it (a code name is safer than a village's).
    public var group: String
    public var week: Int
    public var weeks: Int

    public init(title: LocalizedText, group: String, week: Int, weeks: Int) {
        self.title = title
        self.group = group
        self.week = week
        self.weeks = weeks
    }

    /// Whether `other` is a session of the same programme and group.
    public func isSameCourse(as other: ProgrammePlace) -> Bool {
        title.preferring(.en) == other.title.preferring(.en) && group == other.group
    }

    var json: JSONValue {
        .object([
            "title": title.json, "group": .string(group), "week": .integer(Int64(week)), "weeks": .integer(Int64(weeks)),
        ])
    }

    init(json: JSONValue) throws(MeetingError) {
        var r = try FieldReader(json, context: "A programme")
        title = try LocalizedText(json: try r.require("title"))
        group = try r.string("group")
        weeks = try r.int("weeks", in: 1...Int64(Limits.weeksPerProgramme))
        week = try r.int("week", in: 1...Int64(weeks))
        try r.finish()
        guard !group.isEmpty, group.count <= Limits.groupCharacters else {
            throw MeetingError(.invalidEvent, "A programme's group must be 1 to \(Limits.groupCharacters) characters.")
        }
    }
}

/// Reads a programme file; every mistake is reported with its line, as ``DeckParser`` does.
public enum ProgrammeParser {
    /// Reads the programme at `path` and every deck it names (relative to its folder).
    public static func parse(fileAt path: String) -> Result<Programme, DeckParser.Failure> {
        guard let data = FileManager.default.contents(atPath: path) else {
            return .failure(.init(problems: [.init(line: 0, message: "cannot read the file. Check the path and that you may read it.")]))
        }
        let folder = (path as NSString).deletingLastPathComponent
        return parse(Array(data)) { relative in
            DeckParser.parse(fileAt: relative.hasPrefix("/") ? relative : (folder as NSString).appendingPathComponent(relative))
        }
    }

    /// Reads a programme's bytes, each deck through `deck` (given its path as written).
    public static func parse(
        _ bytes: [UInt8], deck load: (String) -> Result<Deck, DeckParser.Failure>
    ) -> Result<Programme, DeckParser.Failure> {
        var problems: [DeckParser.Problem] = []
        func problem(_ line: Int, _ message: String) { problems.append(.init(line: line, message: message)) }
        guard bytes.count <= Limits.deckBytes, let text = String(validating: bytes, as: UTF8.self) else {
            return .failure(.init(problems: [.init(line: 1, message: "the file is not UTF-8 text of at most 1 MiB. Save it as UTF-8.")]))
        }
        var title = LocalizedText([:])
        var weeks: [Programme.Week] = []
        var weekLines: [Int: Int] = [:]
        var pathLines: [String: Int] = [:]
        for (index, raw) in text.split(separator: "\n", omittingEmptySubsequences: false).enumerated() {
            let number = index + 1
            var line = String(raw).trimmingWhitespace()
            if number == 1, line.hasPrefix("\u{FEFF}") { line.removeFirst() }
            if line.isEmpty || line.hasPrefix("#") { continue }
            guard let colon = line.firstIndex(of: ":") else {
                problem(number, "expected \"week N: FILE.deck\", \"title: ...\" or a # comment.")
                continue
            }
            let key = String(line[..<colon]).trimmingWhitespace().lowercased()
            let value = String(line[line.index(after: colon)...]).trimmingWhitespace()
            if key == "title" || key.hasPrefix("title.") {
                let code = key == "title" ? "en" : String(key.dropFirst(6))
                guard let language = Language(rawValue: code) else {
                    problem(number, "unknown language \"\(code)\": a title is \"title:\", \"title.ur:\" or \"title.ps:\".")
                    continue
                }
                guard title[language] == nil else {
                    problem(number, "\"\(key)\" is given twice. Keep one.")
                    continue
                }
                guard let checked = try? CheckedText(value, limit: Limits.titleCharacters, what: "The title") else {
                    problem(number, "the title must be 1 to \(Limits.titleCharacters) characters of text.")
                    continue
                }
                title[language] = checked.value
                continue
            }
            let words = key.split(separator: " ")
            guard words.count == 2, words[0] == "week" else {
                problem(
                    number,
                    "unknown field \"\(key)\". A programme has \"title:\" (and \"title.ur:\", \"title.ps:\") and lines \"week N: FILE.deck\"."
                )
                continue
            }
            guard let week = Int(words[1]), (1...Limits.weeksPerProgramme).contains(week) else {
                problem(
                    number, "\"\(words[1])\" is not a week: weeks are numbered 1 to \(Limits.weeksPerProgramme), as \"week 3: FILE.deck\".")
                continue
            }
            if let earlier = weekLines[week] {
                problem(number, "week \(week) is given twice (first on line \(earlier)). Keep one.")
                continue
            }
            weekLines[week] = number
            guard !value.isEmpty else {
                problem(number, "week \(week) names no deck. Write its file after the colon, as \"week \(week): FILE.deck\".")
                continue
            }
            if let earlier = pathLines[value] {
                problem(
                    number,
                    "\(value) is already week \(weeks.first { $0.path == value }?.number ?? 0) (line \(earlier)); each week has its own deck."
                )
                continue
            }
            pathLines[value] = number
            switch load(value) {
            case .success(let deck): weeks.append(.init(number: week, path: value, deck: deck))
            case .failure(let failure):
                let first = failure.problems.first
                let place = first.map { $0.line > 0 ? "\(value):\($0.line): " : "\(value): " } ?? ""
                problem(
                    number,
                    "week \(week)'s deck cannot be used: \(place)\(first?.message ?? "")"
                        + (failure.problems.count > 1
                            ? " (and \(failure.problems.count - 1) more; `halqa deck check \(value)` lists them)" : ""))
            }
        }
        if title.texts.isEmpty { problem(1, "the programme has no title. Add a line \"title: ...\".") }
        if weekLines.isEmpty {
            problem(
                max(1, text.split(separator: "\n", omittingEmptySubsequences: false).count),
                "the programme has no weeks. Add lines such as \"week 1: first.deck\".")
        } else if let last = weekLines.keys.max(), let missing = (1...last).first(where: { weekLines[$0] == nil }) {
            let next = weekLines.filter { $0.key > missing }.min { $0.key < $1.key }
            problem(next?.value ?? 1, "week \(missing) is missing: weeks run 1, 2, 3 … without a gap.")
        }
        problems.sort { $0.line < $1.line }
        guard problems.isEmpty else { return .failure(.init(problems: problems)) }
        return .success(Programme(title: title, weeks: weeks.sorted { $0.number < $1.number }))
    }
}
