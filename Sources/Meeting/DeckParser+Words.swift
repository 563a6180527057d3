import Foundation

/// Words a deck's author types: durations, and the nearest known word to a misspelt one.
extension DeckParser {
    /// "8 min", "8m", "90 s", "90sec", "1:30", "1 h" → seconds, within 10 s ... 3 h.
    public static func parseDuration(_ text: String) -> Int? {
        let lower = text.lowercased().filter { !$0.isWhitespace }
        var seconds: Int?
        let parts = lower.split(separator: ":", omittingEmptySubsequences: false)
        if parts.count == 2, let m = Int(parts[0]), let s = Int(parts[1]), parts[1].count == 2, s < 60 {
            seconds = m * 60 + s
        } else {
            let digits = lower.prefix { $0.isASCII && $0.isNumber }
            let unit = lower.dropFirst(digits.count)
            guard let n = Int(digits), digits.count <= 6 else { return nil }
            switch unit {
            case "s", "sec", "secs", "second", "seconds": seconds = n
            case "m", "min", "mins", "minute", "minutes": seconds = n * 60
            case "h", "hr", "hour", "hours": seconds = n * 3600
            default: return nil
            }
        }
        guard let seconds, (10...3 * 3600).contains(seconds) else { return nil }
        return seconds
    }

    /// The candidate within edit distance 2 of `word`, if one is.
    static func closest(to word: String, among candidates: [String]) -> String? {
        func distance(_ a: [Character], _ b: [Character]) -> Int {
            var row = Array(0...b.count)
            for i in 1...max(a.count, 1) where !a.isEmpty {
                var previous = row[0]
                row[0] = i
                for j in stride(from: 1, through: b.count, by: 1) {
                    let current = row[j]
                    row[j] = min(row[j] + 1, row[j - 1] + 1, previous + (a[i - 1] == b[j - 1] ? 0 : 1))
                    previous = current
                }
            }
            return a.isEmpty ? b.count : row[b.count]
        }
        return candidates.map { ($0, distance(Array(word), Array($0))) }
            .filter { $0.1 <= 2 && $0.1 < max(word.count, 2) }
            .min { $0.1 < $1.1 }?.0
    }
}

/// The words of a field: a language code, and text within its limit.
extension DeckParser.Reader {
    mutating func language(_ key: String, _ field: Field) -> Language? {
        if let language = Language(rawValue: key) { return language }
        let known = Language.allCases.map { "\"\($0.rawValue)\" (\($0.englishName))" }.joined(separator: ", ")
        let suggestion =
            DeckParser.closest(to: key, among: Language.allCases.map(\.rawValue) + ["time", "note", "scale"])
            .map { " Did you mean \"\($0)\"?" } ?? ""
        problems.append(
            DeckParser.Problem(
                line: field.line,
                message:
                    "unknown field \"\(key)\".\(suggestion) A prompt has text in \(known), and may have \"time\" and a \"note\" (with \"note.ur\", \"note.ps\"); a check-in has a \"scale\"."
            ))
        return nil
    }

    mutating func checked(_ field: Field, limit: Int, what: String) -> String? {
        do {
            return try CheckedText(field.value, limit: limit, what: what).value
        } catch {
            if error.code == .emptyText {
                problems.append(
                    DeckParser.Problem(
                        line: field.line, message: "\"\(field.key):\" has nothing after the colon. Write the text, or remove the line.")
                )
                return nil
            }
            let message = error.message.prefix(1).lowercased() + error.message.dropFirst()
            problems.append(DeckParser.Problem(line: field.line, message: message))
            return nil
        }
    }
}
