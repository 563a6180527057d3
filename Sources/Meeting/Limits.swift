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
    /// Weeks in a programme: a year of weekly meetings.
    public static let weeksPerProgramme = 52
    /// A group's label (a code name the organiser chose).
    public static let groupCharacters = 60
    /// One event's canonical bytes.
    public static let eventBytes = 256 << 10
    /// An exported transcript file, in bytes.
    public static let transcriptBytes = 256 << 20
    /// The longest the archive keeps sessions, in days (100 years): `--keep-days`.
    public static let keepDays = 36_600
    /// The smallest and largest reveal minimum a facilitator may choose.
    public static let minimumToReveal = 2...50
    /// The reveal minimum when the facilitator does not choose one.
    public static let defaultMinimumToReveal = 3
}
