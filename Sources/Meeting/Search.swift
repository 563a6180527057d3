import Foundation
import GRDB

/// A piece of a closed session's transcript that search can find.
struct Passage: Sendable {
    enum Kind: String, Sendable { case title, prompt, reflection, note }
    var kind: Kind
    var prompt: Int?
    var text: String

    /// The searchable passages of a session: title, prompts, shown reflections, notes.
    /// Hidden reflections are left out; pending ones never exist in a closed session.
    static func all(of state: SessionState) -> [Passage] {
        var out = [Passage(kind: .title, prompt: nil, text: state.created.title)]
        for (i, prompt) in state.created.deck.prompts.enumerated() {
            for language in prompt.text.languages { out.append(Passage(kind: .prompt, prompt: i, text: prompt.text[language]!)) }
            // A check-in's answers are counts, not words: nothing of them to find.
            for r in state.revealed(prompt: i) where r.hiddenReason == nil && !prompt.isCheckIn {
                out.append(Passage(kind: .reflection, prompt: i, text: r.text))
            }
        }
        for note in state.notes { out.append(Passage(kind: .note, prompt: note.prompt, text: note.text)) }
        return out
    }
}

/// One passage found by ``TranscriptStore/search(_:limit:)``.
public struct SearchHit: Hashable, Sendable, Codable {
    public var session: String
    /// "title", "prompt", "reflection" or "note".
    public var kind: String
    /// The prompt's number as people count (1 is the first), when the passage has one.
    public var prompt: Int?
    /// The passage as it was written, cut to about 16 words, with the matched words between « and ».
    public var snippet: String
}

extension TranscriptStore {
    /// Finds passages of closed sessions containing every word of `text` (in any order),
    /// however its letters were typed (``SearchText``); snippets show the text as written.
    /// The most recently stored first: ranking every match by relevance read all of them,
    /// 250 ms at p95 for a common word in a year's archive (scripts/bench-archive), and a
    /// search of every word asked is narrowed by asking more words.
    public func search(_ text: String, limit: Int = 200) throws(MeetingError) -> [SearchHit] {
        let words = SearchText.fold(text).split(whereSeparator: { $0.isWhitespace || $0 == "\"" }).map(String.init)
        guard !words.isEmpty else {
            throw MeetingError(.invalidSearch, "Give at least one word to search for.")
        }
        guard text.count <= 500 else { throw MeetingError(.invalidSearch, "The search text is too long; use a few words.") }
        do {
            return try pool.read { db in
                // Each word as the index holds it, by the index's own tokenizer: "father's" is
                // two, `father` and `s`, as it was when indexed. The index keeps no word's place
                // (`detail=none`), so a phrase cannot be asked, and each is its own quoted
                // string: no input can be read as query syntax.
                let tokens = try db.makeTokenizer(FTS5TokenizerDescriptor(components: TranscriptStore.passageTokenizer))
                    .tokenize(query: words.joined(separator: " "))
                    .filter { !$0.flags.contains(.colocated) }.map(\.token)
                guard !tokens.isEmpty else { return [] }
                let query = Set(tokens).sorted().map { "\"" + $0 + "\"" }.joined(separator: " ")
                return try Row.fetchAll(
                    db,
                    sql: """
                        SELECT session, kind, prompt, highlight(passage, 3, char(1), char(2)) AS marked,
                            coalesce(original, text) AS original
                        FROM passage WHERE passage MATCH ? ORDER BY rowid DESC LIMIT ?
                        """, arguments: [query, limit]
                ).map { row in
                    SearchHit(
                        session: EventID(bytes: row["session"] as Data)?.hex ?? "", kind: row["kind"],
                        prompt: (row["prompt"] as Int?).map { $0 + 1 },
                        snippet: SearchText.snippet(original: row["original"], marked: row["marked"]))
                }
            }
        } catch {
            throw MeetingError(.storage, "Search failed: \(error).")
        }
    }
}

/// The passages found in one session, with the archive's row of that session.
public struct SearchGroup: Codable, Sendable {
    public var session: String
    public var entry: ArchiveEntry?
    public var passages: [SearchHit]
}

extension TranscriptStore {
    /// ``search(_:limit:)``'s passages grouped by session, in the order first found, each
    /// with its session's archive row (one query for all of them, no session folded).
    public func searchBySession(_ text: String, limit: Int = 100) throws(MeetingError) -> [SearchGroup] {
        var groups: [SearchGroup] = []
        var index: [String: Int] = [:]
        for hit in try search(text, limit: limit) {
            if let i = index[hit.session] {
                groups[i].passages.append(hit)
            } else {
                index[hit.session] = groups.count
                groups.append(SearchGroup(session: hit.session, passages: [hit]))
            }
        }
        let entries = try entries(groups.map(\.session))
        for i in groups.indices { groups[i].entry = entries[groups[i].session] }
        return groups
    }
}
