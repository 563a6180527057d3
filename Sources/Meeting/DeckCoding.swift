import Foundation

extension Deck {
    var json: JSONValue {
        .object([
            "title": title.json,
            "prompts": .array(
                prompts.map { p in
                    var f: [String: JSONValue] = ["text": p.text.json]
                    if let t = p.timeBox { f["time"] = .integer(Int64(t)) }
                    if let n = p.facilitatorNote { f["note"] = .string(n) }
                    return .object(f)
                }),
        ])
    }

    init(json: JSONValue) throws(MeetingError) {
        var r = try FieldReader(json, context: "A deck")
        let title = try LocalizedText(json: try r.require("title"))
        var prompts: [Prompt] = []
        for item in try r.array("prompts") {
            var p = try FieldReader(item, context: "A prompt")
            prompts.append(
                Prompt(
                    text: try LocalizedText(json: try p.require("text")),
                    timeBox: try p.optionalInt("time"), facilitatorNote: try p.optionalString("note")))
            try p.finish()
        }
        try r.finish()
        guard !prompts.isEmpty, prompts.count <= Limits.promptsPerDeck else {
            throw MeetingError(.invalidEvent, "A deck must have between 1 and \(Limits.promptsPerDeck) prompts.")
        }
        self.init(title: title, prompts: prompts)
    }
}

extension LocalizedText {
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
