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
        let normalised = string.replacing("\r\n", with: "\n").replacing("\r", with: "\n")
        if let bad = normalised.unicodeScalars.first(where: CheckedText.isForbidden) {
            let code = String(bad.value, radix: 16, uppercase: true)
            throw MeetingError(.controlCharacters,
                "\(what) contains an invisible control character (U+\(code)). Remove it and try again.")
        }
        let trimmed = normalised.trimmingWhitespace()
        if trimmed.isEmpty {
            throw MeetingError(.emptyText, "\(what) is empty. Write something before sending.")
        }
        let count = trimmed.count
        if count > limit {
            throw MeetingError(.textTooLong,
                "\(what) is \(count) characters long; the limit is \(limit). Shorten it by \(count - limit) and try again.")
        }
        value = trimmed
    }

    /// Checks raw bytes, refusing those that are not valid UTF-8.
    public init(utf8 bytes: some Collection<UInt8>, limit: Int, what: String) throws(MeetingError) {
        guard let string = String(validating: bytes, as: UTF8.self) else {
            throw MeetingError(.invalidUTF8,
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
              let last = lastIndex(where: { !isSpace($0) }) else { return "" }
        return String(self[first...last])
    }
}

/// The sizes Halqa holds text and files to; documented in `docs/storage.md` and `docs/decks.md`.
public enum Limits {
    /// A reflection, in grapheme clusters: a few honest sentences.
    public static let reflectionCharacters = 1_000
    /// A facilitator's note, in grapheme clusters.
    public static let noteCharacters = 4_000
    /// The reason kept when a reflection is hidden.
    public static let reasonCharacters = 500
    /// A session or deck title.
    public static let titleCharacters = 200
    /// A node's name on the LAN (mDNS allows 63 bytes).
    public static let nodeNameCharacters = 63
    /// One prompt's text in one language.
    public static let promptCharacters = 1_000
    /// Prompts in a deck.
    public static let promptsPerDeck = 200
    /// A deck file, in bytes.
    public static let deckBytes = 1 << 20
    /// One event's canonical bytes.
    public static let eventBytes = 256 << 10
    /// An exported transcript file, in bytes.
    public static let transcriptBytes = 256 << 20
    /// The smallest and largest reveal minimum a facilitator may choose.
    public static let minimumToReveal = 2...50
    /// The reveal minimum when the facilitator does not choose one.
    public static let defaultMinimumToReveal = 3
}
