import ArgumentParser
import Foundation
import Meeting

struct WipeCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "wipe",
        abstract: "Remove a session (or every session and this node's keys) so its text cannot be recovered from this data folder.",
        discussion: """
            The rows are overwritten, the search index rewritten without them, the database rebuilt \
            and its journal emptied: a byte search of the data folder finds none of the text. Stop \
            `halqa host` or `halqa node` on this folder first. Other laptops that hold the session \
            keep their copies: wipe it there too. Exported files are not touched.
            """)

    @OptionGroup var data: DataOptions
    @Argument(help: ArgumentHelp("The session's id, or its first few characters (see `halqa sessions`).", valueName: "SESSION"))
    var session: String?
    @Flag(help: "Every session in the folder, and this node's keys.") var all = false
    @Flag(help: "Do not ask for confirmation.") var yes = false

    func validate() throws {
        if (session == nil) == !all {
            throw ValidationError("Give a session to wipe (see `halqa sessions`), or --all for every session and this node's keys.")
        }
    }

    func run() async throws {
        guard data.exists else { throw fail(MeetingError(.noSuchSession, "There are no sessions in \(data.folder); nothing to wipe.")) }
        let store = try data.open(forWipe: true)
        do {
            let target = try session.map { text throws(MeetingError) in try store.resolveSession(text) }
            let what =
                try target.map { id throws(MeetingError) in "session \(id.short) \"\(try store.state(of: id).created.title)\"" }
                ?? "every session in \(data.folder) and this node's keys"
            if !yes {
                guard isatty(STDIN_FILENO) == 1 else {
                    throw MeetingError(.storage, "Wiping \(what) cannot be undone. Run it again with --yes to confirm.")
                }
                print("Wipe \(what)? This cannot be undone. Type WIPE to confirm: ", terminator: "")
                guard readLine()?.trimmingCharacters(in: .whitespaces) == "WIPE" else {
                    throw MeetingError(.storage, "Nothing was wiped: the confirmation was not WIPE.")
                }
            }
            let started = ContinuousClock.now
            let wiped = try await store.wipe(target)
            let took = String(format: "%.2f", (ContinuousClock.now - started).seconds)
            print(
                "Wiped \(what): \(wiped.sessions) session\(wiped.sessions == 1 ? "" : "s"), \(wiped.reflections) reflections and \(wiped.events) other events removed in \(took) s."
            )
            print("The database was rebuilt and its journal emptied, so the text cannot be recovered from \(data.folder).")
            print("Laptops that replicated this session keep their copies, and exports are not touched: wipe or delete those too.")
        } catch let error as MeetingError {
            throw fail(error)
        }
    }
}
