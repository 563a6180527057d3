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
        var found: [Found] = []
        do {
            for hit in try store.search(words.joined(separator: " ")) {
                if let i = found.firstIndex(where: { $0.session == hit.session }) {
                    found[i].passages.append(hit)
                } else if let id = EventID(hex: hit.session) {
                    let state = try store.state(of: id)
                    found.append(
                        Found(
                            session: hit.session, title: state.created.title,
                            closedAt: Transcript(state).session.closedAt, passages: [hit]))
                }
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
