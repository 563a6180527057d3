/// Text a person wrote, checked: valid UTF-8, no control characters, trimmed, not empty,
/// and no longer than a limit counted as a person counts letters (grapheme clusters).
///
/// ```swift
/// let text = try CheckedText("میں نے سیکھا", limit: Limits.reflectionCharacters, what: "A reflection")
/// ```
public struct CheckedText: Hashable, Sendable, CustomStringConvertible {
    public let value: String
    public var description: String { value }

    /// Checks `string`; `what` names the text in errors ("A reflection", "A note").
    public init(_ string: String, limit: Int, what: String) throws(MeetingError) {
        // Line endings are normalised so that the same words are the same bytes everywhere.
        let normalised = string.utf8.contains(0x0D) ? string.replacing("\r\n", with: "\n").replacing("\r", with: "\n") : string
        if let bad = normalised.unicodeScalars.first(where: CheckedText.isForbidden) {
            let code = String(bad.value, radix: 16, uppercase: true)
            throw MeetingError(
                .controlCharacters,
                "\(what) contains an invisible control character (U+\(code)). Remove it and try again.")
        }
        let trimmed = normalised.trimmingWhitespace()
        if trimmed.isEmpty {
            throw MeetingError(.emptyText, "\(what) is empty. Write something before sending.")
        }
        // A letter as a person counts it is one scalar or more, so a text of no more scalars
        // than the limit is within it without counting letters, which is slower.
        if trimmed.unicodeScalars.count > limit, case let count = trimmed.count, count > limit {
            throw MeetingError(
                .textTooLong,
                "\(what) is \(count) characters long; the limit is \(limit). Shorten it by \(count - limit) and try again.")
        }
        value = trimmed
    }

    /// Checks raw bytes, refusing those that are not valid UTF-8.
    public init(utf8 bytes: some Collection<UInt8>, limit: Int, what: String) throws(MeetingError) {
        guard let string = String(validating: bytes, as: UTF8.self) else {
            throw MeetingError(
                .invalidUTF8,
                "\(what) is not valid UTF-8 text. Send it as UTF-8 (every modern browser and editor does).")
        }
        try self.init(string, limit: limit, what: what)
    }

    /// C0 and C1 controls other than newline and tab; U+FFFE/U+FFFF non-characters.
    static func isForbidden(_ scalar: Unicode.Scalar) -> Bool {
        switch scalar.value {
        case 0x0A, 0x09: false
        case 0x00...0x1F, 0x7F...0x9F, 0xFFFE, 0xFFFF: true
        default: false
        }
    }
}

extension String {
    func trimmingWhitespace() -> String {
        let isSpace: (Character) -> Bool = { $0.isWhitespace }
        guard let first = firstIndex(where: { !isSpace($0) }),
            let last = lastIndex(where: { !isSpace($0) })
        else { return "" }
        return String(self[first...last])
    }
}
