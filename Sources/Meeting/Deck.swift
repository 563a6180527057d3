/// A language a prompt can be written in. Halqa's groups read English, Urdu and Pashto.
public enum Language: String, CaseIterable, Codable, Comparable, Sendable {
    case en, ur, ps

    /// Urdu and Pashto are written right to left.
    public var isRightToLeft: Bool { self != .en }

    /// The language's name in English, for messages.
    public var englishName: String {
        switch self {
        case .en: "English"
        case .ur: "Urdu"
        case .ps: "Pashto"
        }
    }

    public static func < (a: Language, b: Language) -> Bool {
        allCases.firstIndex(of: a)! < allCases.firstIndex(of: b)!
    }
}

/// The same words in one or more languages.
public struct LocalizedText: Hashable, Sendable {
    public private(set) var texts: [Language: String]

    public init(_ texts: [Language: String]) { self.texts = texts }

    public subscript(language: Language) -> String? {
        get { texts[language] }
        set { texts[language] = newValue }
    }

    /// The languages present, in the order English, Urdu, Pashto.
    public var languages: [Language] { texts.keys.sorted() }

    /// The text in `language`, else in the first language present.
    public func preferring(_ language: Language) -> String {
        texts[language] ?? languages.first.flatMap { texts[$0] } ?? ""
    }
}

/// Who a deck is written for. Some prompts are meant for a circle of men only (a men's group
/// talking about violence at home); the console says so before the facilitator opens any.
public enum Audience: String, CaseIterable, Sendable {
    case men, women, everyone

    /// How the console and `deck check` say it.
    public var description: String {
        switch self {
        case .men: "for sessions of men only"
        case .women: "for sessions of women only"
        case .everyone: "for any group"
        }
    }
}

/// A facilitator's prompt deck: a title and prompts in the order they are meant to be used.
public struct Deck: Hashable, Sendable {
    public var title: LocalizedText
    public var prompts: [Prompt]
    /// The room's language: what the projector shows and what phones start in (`language:`
    /// in the deck, or `halqa host --language`, which is copied here when a session starts).
    public var language: Language?
    /// Who the deck is for (`audience:`); nil when it does not say.
    public var audience: Audience?
    /// Whether a participant may write several reflections to one prompt (`halqa host
    /// --several-per-prompt`, copied here when a session starts, so that every laptop that
    /// takes the session over keeps the rule; the default is one).
    public var severalPerPrompt = false

    public init(title: LocalizedText, prompts: [Prompt], language: Language? = nil, audience: Audience? = nil) {
        self.title = title
        self.prompts = prompts
        self.language = language
        self.audience = audience
    }
}

/// The pictures a check-in is answered with: one tap on one of them, counted and never
/// attributed (docs/decks.md, "Check-ins"). Each option is a picture with a word under it in
/// the reader's language; the words are the pages', not the deck's.
public enum CheckInScale: String, CaseIterable, Hashable, Sendable {
    /// Five faces, from very bad to very good ("How was your week?").
    case faces
    /// A statement answered agree, partly or disagree (as attitude scales such as GEM ask).
    case agree

    /// How many options it has; an answer is one of `0..<options`.
    public var options: Int {
        switch self {
        case .faces: 5
        case .agree: 3
        }
    }

    /// The options' names, as pages, exports and reports call them (in this order).
    public var optionNames: [String] {
        switch self {
        case .faces: ["very-bad", "bad", "so-so", "good", "very-good"]
        case .agree: ["agree", "partly", "disagree"]
        }
    }

    /// The options in English words, for exports and the console.
    public var englishWords: [String] {
        switch self {
        case .faces: ["very bad", "bad", "so-so", "good", "very good"]
        case .agree: ["agree", "partly", "disagree"]
        }
    }

    /// The option an answer's text names ("0" … "4"), or nil if it names none.
    public func option(_ answer: String) -> Int? {
        guard answer.utf8.count == 1, let n = Int(answer), (0..<options).contains(n) else { return nil }
        return n
    }
}

/// One item of a deck: a discussion prompt answered in writing, or a check-in answered by a
/// picture (``scale`` set).
public struct Prompt: Hashable, Sendable {
    /// The prompt in each language it was written in.
    public var text: LocalizedText
    /// How long the facilitator means to give it, in seconds.
    public var timeBox: Int?
    /// A note for the facilitator only, in each language it was written in (`note:` is the
    /// English, `note.ur:` and `note.ps:` the translations); never shown to participants.
    public var facilitatorNote: LocalizedText?
    /// Set for a check-in: the pictures it is answered with. A check-in's answers are kept
    /// and shown only as counts per option.
    public var scale: CheckInScale?

    public init(text: LocalizedText, timeBox: Int? = nil, facilitatorNote: LocalizedText? = nil, scale: CheckInScale? = nil) {
        self.text = text
        self.timeBox = timeBox
        self.facilitatorNote = facilitatorNote
        self.scale = scale
    }

    /// Whether it is a check-in (answered by picture) rather than a written prompt.
    public var isCheckIn: Bool { scale != nil }
}
