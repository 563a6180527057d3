/// Why the meeting refused an action, a file or a request, in words a facilitator,
/// participant or organiser can act on.
///
/// `code` is stable and machine-readable (the web pages translate by it); `message` is
/// English prose that says what went wrong and what to do.
public struct MeetingError: Error, Hashable, Sendable, CustomStringConvertible {
    /// A stable identifier of the kind of problem.
    public struct Code: RawRepresentable, Hashable, Sendable, CustomStringConvertible {
        public let rawValue: String
        public init(rawValue: String) { self.rawValue = rawValue }
        public var description: String { rawValue }

        public static let promptNotOpen = Code(rawValue: "prompt-not-open")
        public static let promptAlreadyOpened = Code(rawValue: "prompt-already-opened")
        public static let noSuchPrompt = Code(rawValue: "no-such-prompt")
        public static let tooFewToReveal = Code(rawValue: "too-few-to-reveal")
        public static let sessionClosed = Code(rawValue: "session-closed")
        public static let emptyText = Code(rawValue: "empty-text")
        public static let textTooLong = Code(rawValue: "text-too-long")
        public static let invalidUTF8 = Code(rawValue: "invalid-utf8")
        public static let controlCharacters = Code(rawValue: "control-characters")
        public static let noSuchReflection = Code(rawValue: "no-such-reflection")
        public static let notResonable = Code(rawValue: "not-resonable")
        /// An answer to a check-in that is not one of its options, or written text sent to a check-in.
        public static let notAnOption = Code(rawValue: "not-an-option")
        /// An answer sent as a picture to a written prompt.
        public static let notACheckIn = Code(rawValue: "not-a-check-in")
        public static let notRevealed = Code(rawValue: "not-revealed")
        public static let alreadyHidden = Code(rawValue: "already-hidden")
        public static let invalidMinimum = Code(rawValue: "invalid-minimum")
        public static let notAFacilitator = Code(rawValue: "not-a-facilitator")
        public static let cannotAcceptReflections = Code(rawValue: "cannot-accept-reflections")
        public static let noSuchSession = Code(rawValue: "no-such-session")
        public static let ambiguousSession = Code(rawValue: "ambiguous-session")
        public static let invalidEvent = Code(rawValue: "invalid-event")
        public static let invalidTranscript = Code(rawValue: "invalid-transcript")
        public static let invalidSearch = Code(rawValue: "invalid-search")
        public static let invalidFilter = Code(rawValue: "invalid-filter")
        public static let storage = Code(rawValue: "storage")
        public static let alreadyAdmitted = Code(rawValue: "already-admitted")
        public static let noSuchNode = Code(rawValue: "no-such-node")
        public static let wiped = Code(rawValue: "wiped")
        public static let weakPassphrase = Code(rawValue: "weak-passphrase")
        public static let wrongPassphrase = Code(rawValue: "wrong-passphrase")
        public static let damagedFile = Code(rawValue: "damaged-file")
    }

    public let code: Code
    public let message: String

    public init(_ code: Code, _ message: String) {
        self.code = code
        self.message = message
    }

    public var description: String { message }
}
