import Foundation
import Synchronization
import Testing

/// A virtual hall (scripts/hall) for one test: hosts in network namespaces, each with its own
/// avahi-daemon. Torn down when the value goes away, whatever happened.
final class Hall {
    let name: String
    static let script = CLI.repository.path + "/scripts/hall"

    init(hosts: Int) throws {
        let up = try Hall.shell([Hall.script, "up", String(hosts)])
        guard up.status == 0 else { throw HallError(message: "scripts/hall up failed: \(up.stderr)") }
        name = up.stdout.trimmingCharacters(in: .whitespacesAndNewlines)
        Thread.sleep(forTimeInterval: 0.5)  // the daemons come up
    }

    deinit { _ = try? Hall.shell([Hall.script, "down", name]) }

    struct HallError: Error { var message: String }

    static var isRoot: Bool { getuid() == 0 }

    /// The address of host `i`.
    func address(_ i: Int) -> String { "198.18.0.\(i)" }

    /// Runs a command on host `i` to completion.
    @discardableResult
    func run(_ i: Int, _ command: [String]) throws -> CLI.Result {
        try Hall.shell([Hall.script, "run", name, String(i)] + command)
    }

    /// Starts a command on host `i`, reading what it prints as it goes.
    func start(_ i: Int, _ command: [String]) throws -> Running {
        try Running([Hall.script, "run", name, String(i)] + command)
    }

    func halqa(_ i: Int, _ arguments: [String]) throws -> CLI.Result {
        try run(i, [CLI.binaries.appendingPathComponent("halqa").path] + arguments)
    }

    /// Gives host `i` one more address on the hall's LAN (a machine with many, or a phone's).
    func addAddress(_ i: Int, _ address: String) throws {
        let result = try Hall.shell(["ip", "-n", "\(name)h\(i)", "addr", "add", address + "/24", "dev", "\(name)e\(i)"])
        if result.status != 0 { throw HallError(message: "cannot add \(address) to host \(i): \(result.stderr)") }
    }

    func control(_ verb: String, _ i: Int) throws {
        let result = try Hall.shell([Hall.script, verb, name, String(i)])
        if result.status != 0 { throw HallError(message: "scripts/hall \(verb) failed: \(result.stderr)") }
    }

    static func shell(_ command: [String]) throws -> CLI.Result {
        try CLI.execute(URL(fileURLWithPath: "/usr/bin/env"), command)
    }
}

/// A process whose output is collected as it comes, so a test can wait for a line.
final class Running {
    final class Buffer: Sendable { let text = Mutex("") }
    let process: Process
    private let output = Buffer()
    private let pipe = Pipe()
    private let input = Pipe()

    init(_ command: [String]) throws {
        process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = command
        process.currentDirectoryURL = CLI.repository
        process.standardOutput = pipe
        process.standardError = pipe
        process.standardInput = input
        let output = self.output
        pipe.fileHandleForReading.readabilityHandler = { handle in
            let data = handle.availableData
            output.text.withLock { $0 += String(decoding: data, as: UTF8.self) }
        }
        try process.run()
    }

    var text: String { output.text.withLock { $0 } }

    /// Types a line at the process, as a person at its terminal would.
    func type(_ line: String) { input.fileHandleForWriting.write(Data((line + "\n").utf8)) }

    /// Waits until the output contains `needle` (true), or `seconds` pass (false).
    func waitFor(_ needle: String, seconds: Double = 10) -> Bool {
        let deadline = Date().addingTimeInterval(seconds)
        while Date() < deadline {
            if text.contains(needle) { return true }
            Thread.sleep(forTimeInterval: 0.05)
        }
        return text.contains(needle)
    }

    func stop(_ signal: Int32 = SIGTERM) {
        if process.isRunning { kill(process.processIdentifier, signal) }
        process.waitUntilExit()
        pipe.fileHandleForReading.readabilityHandler = nil
    }

    deinit { stop(SIGKILL) }
}
