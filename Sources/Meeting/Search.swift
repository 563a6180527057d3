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
                // Each word as the index holds it, by the index's own tokenizer: "circle-1" is
                // `circle` and `1`, as it was when indexed. Each is its own quoted string, so no
                // input can be read as query syntax, and the index is asked for passages that
                // hold them all. It keeps no word's place (`detail=none`), so where a word made
                // several, they are found together and in order by reading the passage again.
                let tokenizer = try db.makeTokenizer(FTS5TokenizerDescriptor(components: TranscriptStore.passageTokenizer))
                func tokens(_ text: String, query: Bool) throws -> [String] {
                    try (query ? tokenizer.tokenize(query: text) : tokenizer.tokenize(document: text))
                        .filter { !$0.flags.contains(.colocated) }.map(\.token)
                }
                let asked = try words.map { try tokens($0, query: true) }.filter { !$0.isEmpty }
                guard !asked.isEmpty else { return [] }
                let together = asked.filter { $0.count > 1 }
                let query = Set(asked.joined()).sorted().map { "\"" + $0 + "\"" }.joined(separator: " ")
                let rows = try Row.fetchCursor(
                    db,
                    sql: """
                        SELECT session, kind, prompt, highlight(passage, 3, char(1), char(2)) AS marked, text,
                            coalesce(original, text) AS original
                        FROM passage WHERE passage MATCH ? ORDER BY rowid DESC LIMIT ?
                        """, arguments: [query, together.isEmpty ? limit : TranscriptStore.searchRead])
                var hits: [SearchHit] = []
                while hits.count < limit, let row = try rows.next() {
                    if !together.isEmpty {
                        let words = try tokens(row["text"], query: false)
                        guard together.allSatisfy({ words.contains($0) }) else { continue }
                    }
                    hits.append(
                        SearchHit(
                            session: TranscriptStore.sessionHex(row["session"]), kind: row["kind"],
                            prompt: (row["prompt"] as Int?).map { $0 + 1 },
                            snippet: SearchText.snippet(original: row["original"], marked: row["marked"])))
                }
                return hits
            }
        } catch {
            throw MeetingError(.storage, "Search failed: \(error).")
        }
    }
}

extension TranscriptStore {
    /// The most passages a search with a word of several parts reads to find where they stand
    /// together: a word as common as "a-a" would otherwise read most of a year's index.
    static let searchRead = 20_000

    /// A passage's session as search shows it: the id's hex, from its 32 bytes (or from
    /// the hex an older Halqa, still running on the same folder, may have written).
    static func sessionHex(_ value: DatabaseValue) -> String {
        if let bytes = Data.fromDatabaseValue(value), let id = EventID(bytes: bytes) { return id.hex }
        return String.fromDatabaseValue(value) ?? ""
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
