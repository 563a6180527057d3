import ArgumentParser
import Foundation
import Meeting

struct Search: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Find closed sessions and passages containing every given word.",
        discussion: "Searches titles, prompts, revealed reflections and notes of closed sessions.")

    @OptionGroup var data: DataOptions
    @Argument(help: "Words to find (all must appear).") var words: [String]
    @Flag(help: "Print JSON instead of text.") var json = false

    func validate() throws {
        if words.isEmpty { throw ValidationError("Give at least one word to search for.") }
    }

    struct Found: Codable {
        var session: String
        var title: String
        var closedAt: String?
        var passages: [SearchHit]
    }

    func run() async throws {
        guard data.exists else {
            if json { print("[]") } else { print("Nothing found: there are no sessions in \(data.folder).") }
            return
        }
        let store = try data.openArchive()
        let found: [Found]
        do {
            found = try store.searchBySession(words.joined(separator: " "), limit: 200).map { group in
                Found(
                    session: group.session, title: group.entry?.title ?? "", closedAt: group.entry?.closedAt.map(Transcript.timestamp),
                    passages: group.passages)
            }
        } catch { throw fail(error) }
        if json {
            printJSON(found)
            return
        }
        if found.isEmpty {
            print("Nothing found for \(words.joined(separator: " ")) in closed sessions.")
            return
        }
        for session in found {
            print("\(session.session.prefix(12))  \(session.title)  (closed \(session.closedAt ?? "?"))")
            for p in session.passages {
                let place = p.prompt.map { "\(p.kind), prompt \($0)" } ?? p.kind
                print("    [\(place)] \(p.snippet.replacingOccurrences(of: "\n", with: " "))")
            }
        }
    }
}
