import ArgumentParser
import Foundation
import Meeting

struct DigestCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "digest",
        abstract: "Print a digest of a session's events, to check that two nodes hold the same meeting.",
        discussion:
            "Two nodes that print the same digest hold the same events (reflections still waiting to be revealed aside) and show the same meeting."
    )

    @OptionGroup var data: DataOptions
    @Argument(help: ArgumentHelp("The session's id, or its first few characters (see `halqa sessions`).", valueName: "SESSION"))
    var session: String
    @Flag(help: "Print JSON.") var json = false

    struct Output: Codable {
        var session: String
        var title: String
        var events: Int
        var digest: String
        var short: String
    }

    func run() async throws {
        guard data.exists else { throw fail(MeetingError(.noSuchSession, "There are no sessions in \(data.folder).")) }
        let store = try data.open()
        do {
            let state = try store.state(of: try store.resolveSession(session))
            var replica = Replica(state: state, role: .coFacilitator)
            let digest = replica.digest
            if json {
                printJSON(
                    Output(
                        session: state.id.hex, title: state.created.title, events: digest.count, digest: digest.value.hex,
                        short: digest.short))
            } else {
                print("\(digest.short)  \(digest.value.hex)")
                print("session \(state.id.short) \"\(state.created.title)\": \(digest.count) events")
            }
        } catch { throw fail(error) }
    }
}
