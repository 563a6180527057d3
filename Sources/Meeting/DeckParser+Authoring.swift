/// What a deck's authors say of it, beside its texts: the languages it claims to be in, and
/// which translations a native speaker has reviewed. Kept by the parser for `halqa deck check`;
/// not part of a session's deck (events carry the texts only).
///
/// ```text
/// languages: en ur ps
/// reviewed.ur: Shazia, Peshawar, 2026-11
/// ```
/// A deck that claims a language must have it in its title and in every prompt; a
/// translation with no `reviewed.xx:` line needs review by a native speaker before use.
extension DeckParser {
    public struct Authoring: Sendable, Equatable {
        /// The languages the deck claims, from `languages:`; empty when it claims none.
        public var claimed: [Language] = []
        /// Who reviewed each translation, from `reviewed.xx:` lines.
        public var reviewed: [Language: String] = [:]
        var claimedOnLine = 0
    }
}

extension DeckParser.Reader {
    /// Takes a header field of authoring (`languages:`, `reviewed.xx:`); false if it is not one.
    mutating func readAuthoring(_ field: Field) -> Bool {
        if field.key == "languages" {
            authoring.claimedOnLine = field.line
            for word in field.value.split(whereSeparator: { $0 == " " || $0 == "," }) {
                guard let language = Language(rawValue: String(word)) else {
                    problems.append(
                        DeckParser.Problem(
                            line: field.line, message: "\"\(word)\" in \"languages:\" is not a language Halqa knows: write en, ur or ps."))
                    continue
                }
                if !authoring.claimed.contains(language) { authoring.claimed.append(language) }
            }
            if authoring.claimed.isEmpty {
                problems.append(
                    DeckParser.Problem(
                        line: field.line, message: "\"languages:\" names no language. Write for example \"languages: en ur ps\"."))
            }
            return true
        }
        if field.key.hasPrefix("reviewed."), let language = language(String(field.key.dropFirst(9)), field) {
            guard let who = checked(field, limit: Limits.titleCharacters, what: "Who reviewed it") else { return true }
            authoring.reviewed[language] = who
            return true
        }
        return false
    }

    /// Takes a header field that sets up the room (`language:`, `audience:`); false if it is not one.
    mutating func readRoom(_ field: Field) -> Bool {
        switch field.key {
        case "language":
            if let language = Language(rawValue: field.value.lowercased()) {
                roomLanguage = language
            } else {
                problems.append(
                    DeckParser.Problem(
                        line: field.line,
                        message:
                            "\"language: \(field.value)\" is not a language Halqa knows: write en, ur or ps (the language the projector shows and phones start in)."
                    ))
            }
            return true
        case "audience":
            if let audience = Audience(rawValue: field.value.lowercased()) {
                self.audience = audience
            } else {
                let known = Audience.allCases.map(\.rawValue).joined(separator: ", ")
                problems.append(
                    DeckParser.Problem(
                        line: field.line, message: "\"audience: \(field.value)\" is not one Halqa knows: write one of \(known)."))
            }
            return true
        default:
            return false
        }
    }

    /// Every language the deck claims is in its title, in each prompt and in each note.
    mutating func checkClaims(title: LocalizedText, prompts: [Prompt]) {
        let claim = "which this deck claims in \"languages:\" (line \(authoring.claimedOnLine))"
        for language in authoring.claimed {
            let fix = "Add it, or take \(language.rawValue) out of \"languages:\"."
            if title[language] == nil {
                let key = language == .en ? "title" : "title.\(language.rawValue)"
                problems.append(
                    DeckParser.Problem(
                        line: header.fields.first?.line ?? 1,
                        message: "the title has no \(language.englishName) (\"\(key):\"), \(claim). \(fix)"))
            }
            for (index, prompt) in prompts.enumerated() where prompt.text[language] == nil && index < self.prompts.count {
                problems.append(
                    DeckParser.Problem(
                        line: self.prompts[index].line,
                        message: "prompt \(index + 1) has no \(language.englishName) (\"\(language.rawValue):\"), \(claim). \(fix)"))
            }
            for (index, prompt) in prompts.enumerated()
            where prompt.facilitatorNote.map({ $0[language] == nil }) ?? false && index < self.prompts.count {
                let key = language == .en ? "note" : "note.\(language.rawValue)"
                problems.append(
                    DeckParser.Problem(
                        line: self.prompts[index].line,
                        message: "prompt \(index + 1)'s note has no \(language.englishName) (\"\(key):\"), \(claim). \(fix)"))
            }
        }
    }
}
