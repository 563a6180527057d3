/// Renders a transcript as Markdown for reading and printing: prompts in deck order, the
/// revealed reflections under each with their resonance, and the facilitators' notes.
extension Transcript {
    public func markdown() -> String {
        var out: [String] = []
        out.append("# \(Transcript.escape(session.title))")
        out.append("")
        var facts = ["Session `\(session.id.prefix(12))`", "created \(session.createdAt)"]
        facts.append(session.closedAt.map { "closed \($0)" } ?? "still open when exported")
        out.append(facts.joined(separator: " · "))
        if let programme = session.programme {
            out.append("")
            out.append(
                "Week \(programme.week) of \(programme.weeks) of \(Transcript.escape(Transcript.ordered(programme.title).first ?? "")) · group \(Transcript.escape(programme.group))"
            )
        }
        if let deck = Transcript.ordered(session.deckTitle).first, deck != session.title {
            out.append("")
            out.append("Deck: \(Transcript.escape(deck))")
        }
        for prompt in prompts {
            if out.last != "" { out.append("") }
            let texts = Transcript.ordered(prompt.text)
            out.append("## \(prompt.number). \(Transcript.escape(texts.first ?? ""))")
            for other in texts.dropFirst() {
                out.append("")
                out.append(Transcript.escape(other))
            }
            out.append("")
            if prompt.status == "waiting" {
                out.append("_Not opened in this session._")
                continue
            }
            if let checkIn = prompt.checkIn {
                // Counts only, as the room saw them: a table prints and reads in any viewer.
                let words = CheckInScale(rawValue: checkIn.scale)?.englishWords ?? checkIn.counts.map(\.option)
                let total = checkIn.counts.reduce(0) { $0 + $1.count }
                out.append(total == 0 ? "_Check-in: no answers were revealed._" : "_Check-in: \(total) answers, counted._")
                out.append("")
                out.append("| answer | count |")
                out.append("|---|---:|")
                for (word, entry) in zip(words, checkIn.counts) { out.append("| \(word) | \(entry.count) |") }
                out.append("")
            } else if prompt.reflections.isEmpty {
                out.append("_No reflections were revealed._")
            }
            for reflection in prompt.reflections {
                let lines = reflection.text.split(separator: "\n", omittingEmptySubsequences: false)
                out.append(lines.map { "> " + Transcript.escape(String($0)) }.joined(separator: "\n"))
                if reflection.resonance > 0 {
                    out.append(">")
                    out.append("> — resonated with \(reflection.resonance) \(reflection.resonance == 1 ? "person" : "people")")
                }
                out.append("")
            }
            if !prompt.notes.isEmpty {
                out.append("**Facilitator's notes**")
                out.append("")
                for note in prompt.notes { out.append("- \(Transcript.escape(note.text)) (\(note.writtenAt))") }
            }
        }
        if !notes.isEmpty {
            if out.last != "" { out.append("") }
            out.append("## Session notes")
            out.append("")
            for note in notes { out.append("- \(Transcript.escape(note.text)) (\(note.writtenAt))") }
        }
        while out.last == "" { out.removeLast() }
        return out.joined(separator: "\n") + "\n"
    }

    /// Texts in the order English, Urdu, Pashto.
    static func ordered(_ texts: [String: String]) -> [String] {
        Language.allCases.compactMap { texts[$0.rawValue] }
    }

    /// Escapes what Markdown would read as markup or HTML, so a reflection stays text.
    static func escape(_ text: String) -> String {
        var out = ""
        for (i, c) in text.enumerated() {
            if "\\`*_[]<>#|~!".contains(c) || (i == 0 && "-+=".contains(c)) {
                out.append("\\")
            }
            out.append(c)
        }
        return out
    }
}
