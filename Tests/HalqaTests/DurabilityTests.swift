import Foundation
import Meeting
import Testing

@Suite("Durability")
struct DurabilityTests {
    @Test("a process killed with SIGKILL right after acknowledgements loses none of them (3 kills)")
    func killNineLosesNothingAcknowledged() async throws {
        for round in 1...3 {
            let data = TemporaryFolder()
            let process = Process()
            process.executableURL = CLI.binaries.appendingPathComponent("halqa-dev")
            process.arguments = [
                "ack-stream", "--data", data.path, "--deck", CLI.repository.path + "/seeds/decks/real-man.deck",
                "--concurrency", "16",
            ]
            let out = Pipe()
            process.standardOutput = out
            try process.run()
            // Read acknowledgements as they come; kill the writer mid-stream, without warning.
            var acknowledged: [String: Int] = [:]
            var session: EventID?
            var buffer = Data()
            let target = 150 * round
            while acknowledged.count < target {
                let chunk = out.fileHandleForReading.availableData
                if chunk.isEmpty { break }
                buffer += chunk
                while let newline = buffer.firstIndex(of: 0x0A) {
                    let line = String(decoding: buffer[..<newline], as: UTF8.self)
                    buffer = Data(buffer[(newline + 1)...])
                    let parts = line.split(separator: " ")
                    if parts.first == "session" { session = EventID(hex: parts[1]) }
                    if parts.first == "ack", parts.count == 3 { acknowledged[String(parts[1])] = Int(parts[2]) }
                }
            }
            kill(process.processIdentifier, SIGKILL)
            process.waitUntilExit()
            #expect(process.terminationReason == .uncaughtSignal)
            let id = try #require(session)
            #expect(acknowledged.count >= target)

            let store = try TranscriptStore(folder: data.path)
            #expect(try store.integrityCheck() == "ok")
            let stored = Set(try store.events(of: id).map(\.id.hex))
            let lost = acknowledged.keys.filter { !stored.contains($0) }
            #expect(lost.isEmpty, "round \(round): \(lost.count) acknowledged reflections lost")
            // And the session resumes with every one of them pending.
            let resumed = try await LiveSession.resume(id, in: store)
            #expect(await resumed.state.pendingCount(prompt: 0) >= acknowledged.count)
        }
    }
}
