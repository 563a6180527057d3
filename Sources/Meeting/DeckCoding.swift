import Foundation

extension Deck {
    var json: JSONValue {
        var fields: [String: JSONValue] = [
            "title": title.json,
            "prompts": .array(
                prompts.map { p in
                    var f: [String: JSONValue] = ["text": p.text.json]
                    if let t = p.timeBox { f["time"] = .integer(Int64(t)) }
                    if let n = p.facilitatorNote { f["note"] = n.noteJSON }
                    if let scale = p.scale { f["scale"] = .string(scale.rawValue) }
                    return .object(f)
                }),
        ]
        if let language { fields["language"] = .string(language.rawValue) }
        if let audience { fields["audience"] = .string(audience.rawValue) }
        if severalPerPrompt { fields["reflections"] = .string("several") }
        return .object(fields)
    }

    init(json: JSONValue) throws(MeetingError) {
        var r = try FieldReader(json, context: "A deck")
        let title = try LocalizedText(json: try r.require("title"))
        var prompts: [Prompt] = []
        for item in try r.array("prompts") {
            var p = try FieldReader(item, context: "A prompt")
            let scale = try p.optionalString("scale")
            guard scale.map({ CheckInScale(rawValue: $0) != nil }) ?? true else {
                throw MeetingError(.invalidEvent, "A check-in's scale must be \"faces\" or \"agree\".")
            }
            prompts.append(
                Prompt(
                    text: try LocalizedText(json: try p.require("text")),
                    timeBox: try p.optionalInt("time"), facilitatorNote: try p.optional("note").map(LocalizedText.init(noteJSON:)),
                    scale: scale.flatMap(CheckInScale.init(rawValue:))))
            try p.finish()
        }
        let language = try r.optionalString("language")
        let audience = try r.optionalString("audience")
        let reflections = try r.optionalString("reflections")
        try r.finish()
        guard !prompts.isEmpty, prompts.count <= Limits.promptsPerDeck else {
            throw MeetingError(.invalidEvent, "A deck must have between 1 and \(Limits.promptsPerDeck) prompts.")
        }
        guard language.map({ Language(rawValue: $0) != nil }) ?? true, audience.map({ Audience(rawValue: $0) != nil }) ?? true else {
            throw MeetingError(.invalidEvent, "A deck has an unknown language or audience.")
        }
        guard reflections == nil || reflections == "several" else {
            throw MeetingError(.invalidEvent, "A deck's \"reflections\" may only be \"several\".")
        }
        self.init(
            title: title, prompts: prompts, language: language.flatMap(Language.init(rawValue:)),
            audience: audience.flatMap(Audience.init(rawValue:)))
        severalPerPrompt = reflections == "several"
    }
}

extension LocalizedText {
    /// A note only in English is a string, as every note was before notes had translations,
    /// so sessions recorded then read the same; a translated note is an object of languages.
    var noteJSON: JSONValue { languages == [.en] ? .string(texts[.en]!) : json }

    init(noteJSON json: JSONValue) throws(MeetingError) {
        if case .string(let s) = json { self.init([.en: s]) } else { try self.init(json: json) }
    }

    var json: JSONValue { .object(Dictionary(uniqueKeysWithValues: texts.map { ($0.key.rawValue, .string($0.value)) })) }

    init(json: JSONValue) throws(MeetingError) {
        guard case .object(let fields) = json, !fields.isEmpty else {
            throw MeetingError(.invalidEvent, "Text must be an object of languages (\"en\", \"ur\", \"ps\").")
        }
        var texts: [Language: String] = [:]
        for (key, value) in fields {
            guard let language = Language(rawValue: key), case .string(let s) = value else {
                throw MeetingError(.invalidEvent, "Text has an unknown language \"\(key)\" or a value that is not a string.")
            }
            texts[language] = s
        }
        self.init(texts)
    }
}
