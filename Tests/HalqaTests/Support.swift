import Foundation
@_exported import HalqaTestSupport
import Testing

/// Runs the built `halqa` (or `halqa-dev`) as a user would, in its own data folder.
struct CLI {
    /// The folder holding the built executables: next to this test bundle.
    static let binaries: URL = {
        var url = URL(fileURLWithPath: ProcessInfo.processInfo.arguments[0]).deletingLastPathComponent()
        while !FileManager.default.fileExists(atPath: url.appendingPathComponent("halqa").path), url.path != "/" {
            url.deleteLastPathComponent()
        }
        return url
    }()

    static let repository = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent()

    struct Result {
        var status: Int32
        var stdout: String
        var stderr: String
    }

    /// Runs a command to completion; `environment` adds to (or, with "", removes from) the current one.
    @discardableResult
    static func run(_ arguments: [String], tool: String = "halqa", environment: [String: String] = [:]) throws -> Result {
        try execute(binaries.appendingPathComponent(tool), arguments, environment: environment)
    }

    /// Runs any program to completion, collecting what it prints.
    static func execute(_ executable: URL, _ arguments: [String], environment: [String: String] = [:]) throws -> Result {
        let process = Process()
        process.executableURL = executable
        process.arguments = arguments
        process.currentDirectoryURL = repository
        var env = ProcessInfo.processInfo.environment
        for (key, value) in environment { env[key] = value.isEmpty ? nil : value }
        process.environment = env
        let out = Pipe()
        let err = Pipe()
        process.standardOutput = out
        process.standardError = err
        // Never the test runner's terminal: `halqa host` without a deck would ask at it and wait.
        process.standardInput = FileHandle.nullDevice
        try process.run()
        let stdout = out.fileHandleForReading.readDataToEndOfFile()
        let stderr = err.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        return Result(
            status: process.terminationStatus, stdout: String(decoding: stdout, as: UTF8.self),
            stderr: String(decoding: stderr, as: UTF8.self))
    }
}
