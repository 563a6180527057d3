import Foundation

/// Reads the deck file format described in `docs/decks.md`:
///
/// ```
/// # a comment
/// title: Anger and the body
/// title.ur: غصہ اور جسم
///
/// [prompt]
/// en: Where in your body do you feel anger first?
/// ur: آپ کو غصہ سب سے پہلے جسم میں کہاں محسوس ہوتا ہے؟
/// time: 8 min
/// note: Give a minute of silence before people write.
/// ```
///
/// The parser reports every mistake it finds, each with its line, rather than stopping at
/// the first, so a facilitator can fix a deck in one pass.
public enum DeckParser {
    /// One mistake in a deck file.
    public struct Problem: Hashable, Sendable, CustomStringConvertible {
        public let line: Int
        public let message: String
        public var description: String { "line \(line): \(message)" }
        public init(line: Int, message: String) {
            self.line = line
            self.message = message
        }
    }

    /// A deck that could not be read, with every problem found.
    public struct Failure: Error, Hashable, Sendable, CustomStringConvertible {
        public let problems: [Problem]
        public var description: String { problems.map(\.description).joined(separator: "\n") }
        public init(problems: [Problem]) { self.problems = problems }
    }

    static let promptHeader = "[prompt]"
    static let checkInHeader = "[check-in]"

    /// Parses a deck from the bytes of a file.
    public static func parse(_ bytes: some Collection<UInt8>) -> Result<Deck, Failure> { inspect(bytes).map(\.deck) }

    /// Parses a deck and what its authors say of it: the languages it claims, the
    /// translations a native speaker has reviewed (``Authoring``).
    public static func inspect(_ bytes: some Collection<UInt8>) -> Result<(deck: Deck, authoring: Authoring), Failure> {
        if bytes.count > Limits.deckBytes {
            return .failure(
                Failure(problems: [
                    Problem(
                        line: 1,
                        message:
                            "the file is \(bytes.count) bytes; a deck may be at most \(Limits.deckBytes) bytes. Split it into smaller decks."
                    )
                ]))
        }
        var lines: [String] = []
        var problems: [Problem] = []
        // Split into lines first so that a bad byte is reported on its own line.
        var lineNumber = 1
        for raw in Array(bytes).split(separator: UInt8(ascii: "\n"), omittingEmptySubsequences: false) {
            var slice = raw[...]
            if slice.last == UInt8(ascii: "\r") { slice = slice.dropLast() }
            if lineNumber == 1, slice.starts(with: [0xEF, 0xBB, 0xBF]) { slice = slice.dropFirst(3) }
            if let line = String(validating: slice, as: UTF8.self) {
                lines.append(line)
            } else {
                problems.append(
                    Problem(
                        line: lineNumber,
                        message:
                            "this line is not valid UTF-8 text. Save the file as UTF-8 in your editor."))
                lines.append("")
            }
            lineNumber += 1
        }
        var reader = Reader()
        for (index, line) in lines.enumerated() { reader.read(line, at: index + 1) }
        problems += reader.finish(lineCount: lines.count)
        problems.sort { $0.line < $1.line }
        guard problems.isEmpty, let deck = reader.deck else { return .failure(Failure(problems: problems)) }
        return .success((deck, reader.authoring))
    }

    /// Parses a deck held in a string.
    public static func parse(_ text: String) -> Result<Deck, Failure> { parse(Array(text.utf8)) }

    /// Reads and parses a deck file, or fails with a problem on line 0 when it cannot be read.
    public static func parse(fileAt path: String) -> Result<Deck, Failure> { inspect(fileAt: path).map(\.deck) }

    /// Reads a deck file with what its authors say of it (``inspect(_:)``).
    public static func inspect(fileAt path: String) -> Result<(deck: Deck, authoring: Authoring), Failure> {
        guard let data = FileManager.default.contents(atPath: path) else {
            let problem = Problem(line: 0, message: "cannot read the file. Check the path and that you may read it.")
            return .failure(Failure(problems: [problem]))
        }
        return inspect(data)
    }

    /// Builds a deck line by line; keeps what it needs to point at mistakes.
    struct Reader {
        struct Field {
            var key: String
            var value: String
            var line: Int
        }
        struct Block {
            var line: Int
            var fields: [Field] = []
            /// A `[check-in]` rather than a `[prompt]`.
            var checkIn = false
        }

        var header = Block(line: 1)
        var prompts: [Block] = []
        var problems: [Problem] = []
        var deck: Deck?
        var authoring = Authoring()
        var roomLanguage: Language?
        var audience: Audience?

        mutating func read(_ line: String, at number: Int) {
            let trimmed = line.trimmingWhitespace()
            if trimmed.isEmpty || trimmed.hasPrefix("#") { return }
            if let first = line.unicodeScalars.first, first == " " || first == "\t" {
                continueField(with: trimmed, at: number)
                return
            }
            if trimmed.hasPrefix("[") {
                switch trimmed.lowercased() {
                case DeckParser.promptHeader: prompts.append(Block(line: number))
                case DeckParser.checkInHeader: prompts.append(Block(line: number, checkIn: true))
                default:
                    problems.append(
                        Problem(
                            line: number,
                            message:
                                "unknown section \(trimmed); a deck has \(DeckParser.promptHeader) and \(DeckParser.checkInHeader) sections."
                        ))
                }
                return
            }
            guard let colon = trimmed.firstIndex(of: ":") else {
                problems.append(
                    Problem(
                        line: number,
                        message:
                            "expected \"key: value\" (for example \"en: your prompt\"), a [prompt] line, or a # comment. To continue the line above, indent this one."
                    ))
                return
            }
            let key = String(trimmed[..<colon]).trimmingWhitespace().lowercased()
            let value = String(trimmed[trimmed.index(after: colon)...]).trimmingWhitespace()
            let field = Field(key: key, value: value, line: number)
            if prompts.isEmpty { header.fields.append(field) } else { prompts[prompts.count - 1].fields.append(field) }
        }

        mutating func continueField(with text: String, at number: Int) {
            func append(_ block: inout Block) -> Bool {
                guard !block.fields.isEmpty else { return false }
                let last = block.fields.count - 1
                block.fields[last].value += block.fields[last].value.isEmpty ? text : " " + text
                return true
            }
            let appended = prompts.isEmpty ? append(&header) : append(&prompts[prompts.count - 1])
            if !appended {
                problems.append(
                    Problem(
                        line: number,
                        message:
                            "this indented line continues nothing: indentation means \"more of the line above\". Remove the indentation."))
            }
        }

        mutating func finish(lineCount: Int) -> [Problem] {
            let title = readTitle()
            var built: [Prompt] = []
            if prompts.isEmpty {
                problems.append(
                    Problem(
                        line: max(lineCount, 1),
                        message:
                            "the deck has no prompts. Add one: a line \(DeckParser.promptHeader), then a line such as \"en: your question\"."
                    ))
            }
            if prompts.count > Limits.promptsPerDeck {
                problems.append(
                    Problem(
                        line: prompts[Limits.promptsPerDeck].line,
                        message:
                            "a deck may hold at most \(Limits.promptsPerDeck) prompts; this is prompt \(Limits.promptsPerDeck + 1). Split the deck."
                    ))
            }
            for block in prompts { if let prompt = readPrompt(block) { built.append(prompt) } }
            if let title { checkClaims(title: title, prompts: built) }
            if problems.isEmpty, let title { deck = Deck(title: title, prompts: built, language: roomLanguage, audience: audience) }
            return problems
        }

        mutating func readTitle() -> LocalizedText? {
            var title = LocalizedText([:])
            var seen: [String: Int] = [:]
            for field in header.fields {
                if let earlier = seen[field.key] {
                    problems.append(
                        Problem(line: field.line, message: "\"\(field.key)\" is given twice (first on line \(earlier)). Keep one."))
                    continue
                }
                seen[field.key] = field.line
                if field.key == "title" {
                    if let text = checked(field, limit: Limits.titleCharacters, what: "The title") { title[.en] = text }
                } else if field.key.hasPrefix("title."), let language = language(String(field.key.dropFirst(6)), field) {
                    if let text = checked(field, limit: Limits.titleCharacters, what: "The title") { title[language] = text }
                } else if readAuthoring(field) || readRoom(field) {
                    continue
                } else {
                    let hint =
                        Language(rawValue: field.key) != nil || ["time", "note"].contains(field.key)
                        ? " Prompt fields belong below a \(DeckParser.promptHeader) line."
                        : " Before the first \(DeckParser.promptHeader), a deck has \"title:\", \"title.ur:\", \"title.ps:\", \"language:\", \"audience:\", \"languages:\" and \"reviewed.ur:\"/\"reviewed.ps:\"."
                    problems.append(Problem(line: field.line, message: "unexpected \"\(field.key)\" here.\(hint)"))
                }
            }
            if title.texts.isEmpty, seen["title"] == nil, !seen.keys.contains(where: { $0.hasPrefix("title.") }) {
                problems.append(
                    Problem(
                        line: header.fields.first?.line ?? 1,
                        message:
                            "the deck has no title. Add a line \"title: ...\" before the first \(DeckParser.promptHeader)."))
                return nil
            }
            return title
        }

        mutating func readPrompt(_ block: Block) -> Prompt? {
            var text = LocalizedText([:])
            var timeBox: Int?
            var note = LocalizedText([:])
            var scale: CheckInScale?
            var seen: [String: Int] = [:]
            var ok = true
            for field in block.fields {
                if let earlier = seen[field.key] {
                    problems.append(
                        Problem(
                            line: field.line,
                            message: "\"\(field.key)\" is given twice in this prompt (first on line \(earlier)). Keep one."))
                    ok = false
                    continue
                }
                seen[field.key] = field.line
                switch field.key {
                case "scale" where block.checkIn:
                    scale = CheckInScale(rawValue: field.value.lowercased())
                    if scale == nil {
                        problems.append(
                            Problem(
                                line: field.line,
                                message:
                                    "unknown scale \"\(field.value)\". A check-in is answered with \"faces\" (five faces, very bad to very good) or \"agree\" (agree, partly, disagree)."
                            ))
                        ok = false
                    }
                case "scale":
                    problems.append(
                        Problem(
                            line: field.line,
                            message:
                                "\"scale\" belongs to a check-in: start it with a \(DeckParser.checkInHeader) line instead of \(DeckParser.promptHeader)."
                        ))
                    ok = false
                case "time":
                    if let seconds = DeckParser.parseDuration(field.value) {
                        timeBox = seconds
                    } else {
                        problems.append(
                            Problem(
                                line: field.line,
                                message:
                                    "cannot read the time \"\(field.value)\". Write it like \"8 min\", \"90 s\" or \"1:30\", between 10 seconds and 3 hours."
                            ))
                        ok = false
                    }
                case "note":
                    if let value = checked(field, limit: Limits.noteCharacters, what: "The note") { note[.en] = value } else { ok = false }
                case let key where key.hasPrefix("note."):
                    guard let language = language(String(key.dropFirst(5)), field),
                        let value = checked(field, limit: Limits.noteCharacters, what: "The note")
                    else {
                        ok = false
                        continue
                    }
                    note[language] = value
                default:
                    guard let language = language(field.key, field) else {
                        ok = false
                        continue
                    }
                    if let value = checked(field, limit: Limits.promptCharacters, what: "The prompt") {
                        text[language] = value
                    } else {
                        ok = false
                    }
                }
            }
            if text.texts.isEmpty, ok {
                problems.append(
                    Problem(
                        line: block.line,
                        message:
                            "this \(block.checkIn ? "check-in" : "prompt") has no text. Add a line \"en: ...\" (or \"ur:\", \"ps:\") below it."
                    ))
                return nil
            }
            if block.checkIn, seen["scale"] == nil, ok {
                problems.append(
                    Problem(
                        line: block.line,
                        message:
                            "this check-in has no scale. Add a line \"scale: faces\" (five faces, very bad to very good) or \"scale: agree\" (agree, partly, disagree)."
                    ))
                return nil
            }
            return ok ? Prompt(text: text, timeBox: timeBox, facilitatorNote: note.texts.isEmpty ? nil : note, scale: scale) : nil
        }
    }

}
