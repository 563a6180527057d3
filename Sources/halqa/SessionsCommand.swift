import ArgumentParser
import Foundation
import Meeting

/// One line of `halqa sessions`.
struct SessionSummary: Codable {
    var id: String
    var title: String
    var createdAt: String
    var closedAt: String?
    var status: String
    var prompts: Int
    var promptsOpened: Int
    var reflectionsRevealed: Int
    /// When the session is a week of a programme: the group's label and the week.
    var group: String?
    var week: Int?
    var weeks: Int?

    init(_ state: SessionState) {
        let transcript = Transcript(state)
        id = state.id.hex
        title = state.created.title
        createdAt = transcript.session.createdAt
        closedAt = transcript.session.closedAt
        status = state.isClosed ? "closed" : "open"
        prompts = state.prompts.count
        promptsOpened = state.prompts.filter { $0.status != .waiting }.count
        reflectionsRevealed = transcript.prompts.map(\.reflections.count).reduce(0, +)
        group = state.created.programme?.group
        week = state.created.programme?.week
        weeks = state.created.programme?.weeks
    }

    /// "4/12 group": the week of a programme and the group, or "-".
    var weekColumn: String { week.map { "\($0)/\(weeks ?? 0) \(group ?? "")" } ?? "-" }
}

struct Sessions: AsyncParsableCommand {
    static let configuration = CommandConfiguration(abstract: "List the sessions in the data folder, newest first.")

    @OptionGroup var data: DataOptions
    @Flag(help: "Print JSON instead of a table.") var json = false

    func run() async throws {
        guard data.exists else {
            if json {
                print("[]")
            } else {
                print("No sessions in \(data.folder) yet. Bring one in with `halqa import FILE.json`, or give another folder with --data.")
            }
            return
        }
        let store = try data.open()
        let summaries: [SessionSummary]
        do {
            summaries = try store.sessionIDs().map { id throws(MeetingError) in SessionSummary(try store.state(of: id)) }
        } catch { throw fail(error) }
        if json {
            printJSON(summaries)
            return
        }
        if summaries.isEmpty {
            print("No sessions in \(data.folder) yet. Bring one in with `halqa import FILE.json`.")
            return
        }
        let weekWidth = max(4, summaries.map(\.weekColumn.count).max() ?? 0)
        print(
            Self.pad(["ID", "CREATED", "STATUS", "PROMPTS", "SHOWN", "WEEK", "TITLE"], weekWidth: weekWidth))
        for s in summaries {
            print(
                Self.pad(
                    [
                        String(s.id.prefix(12)), String(s.createdAt.prefix(16)).replacingOccurrences(of: "T", with: " "),
                        s.status, "\(s.promptsOpened)/\(s.prompts)", "\(s.reflectionsRevealed)",
                        s.weekColumn, s.title,
                    ], weekWidth: weekWidth))
        }
    }

    static func pad(_ columns: [String], weekWidth: Int) -> String {
        let widths = [12, 16, 6, 7, 5, weekWidth]
        return zip(columns, widths + [0]).map { text, width in
            width == 0 ? text : text.padding(toLength: width, withPad: " ", startingAt: 0)
        }.joined(separator: "  ")
    }
}
