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

/// One discussion prompt of a deck.
public struct Prompt: Hashable, Sendable {
    /// The prompt in each language it was written in.
    public var text: LocalizedText
    /// How long the facilitator means to give it, in seconds.
    public var timeBox: Int?
    /// A note for the facilitator only, in each language it was written in (`note:` is the
    /// English, `note.ur:` and `note.ps:` the translations); never shown to participants.
    public var facilitatorNote: LocalizedText?

    public init(text: LocalizedText, timeBox: Int? = nil, facilitatorNote: LocalizedText? = nil) {
        self.text = text
        self.timeBox = timeBox
        self.facilitatorNote = facilitatorNote
    }
}
