import ArgumentParser
import Foundation
import Node

struct ListCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "list",
        abstract: "Show the Halqa nodes on this network (found by mDNS through avahi-daemon).")

    @Option(help: "How long to listen, in seconds.") var timeout = 3.0
    @Flag(help: "Print JSON instead of a table.") var json = false

    func validate() throws {
        if !(0.2...60).contains(timeout) { throw ValidationError("--timeout must be between 0.2 and 60 seconds.") }
    }

    func run() async throws {
        switch try await NodeFinder.list(timeout: timeout) {
        case .noDaemon:
            FileHandle.standardError.put(Data(("halqa: " + Presence.noDaemonAdvice(address: nil) + "\n").utf8))
            throw ExitCode(1)
        case .found(let nodes):
            if json {
                printJSON(nodes)
                return
            }
            if nodes.isEmpty {
                print("No Halqa nodes answered on this network within \(timeout) s.")
                return
            }
            print(
                [
                    "NAME".padding(toLength: 24, withPad: " ", startingAt: 0), "ADDRESS".padding(toLength: 22, withPad: " ", startingAt: 0),
                    "NODE".padding(toLength: 14, withPad: " ", startingAt: 0), "SESSION",
                ].joined(separator: " "))
            for node in nodes {
                print(
                    [
                        node.name.padding(toLength: 24, withPad: " ", startingAt: 0),
                        "\(node.address):\(node.port)".padding(toLength: 22, withPad: " ", startingAt: 0),
                        (node.node ?? "?").padding(toLength: 14, withPad: " ", startingAt: 0),
                        node.session ?? "(none)",
                    ].joined(separator: " "))
            }
        }
    }
}
