import ArgumentParser
import Foundation
import Meeting

/// Catch-up and import on this machine alone, without the network: what a joining node does
/// once the session's bytes have arrived (verify, fold, store) and what `halqa import` does
/// with the same session's export, each next to what verifying the signatures alone takes on
/// all cores, in one run (issue 16, part 3). scripts/bench-replication measures the catch-up
/// over the real transport too.
struct BenchCatchUp: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "bench-catchup",
        abstract: "Time verifying and storing a session (catch-up after transfer, and import) next to verifying its signatures alone.")

    @Option(help: "A data folder (emptied first).") var dir: String
    @Option(help: "Sizes of session to measure, in events.") var events: [Int] = [10_000]
    @Option(help: "Runs of each measurement.") var rounds = 3

    func run() async throws {
        try? FileManager.default.removeItem(atPath: dir)
        emit("cores: \(ProcessInfo.processInfo.activeProcessorCount)")
        emit("events   floor s  catch-up s  (verify s + store s)  ×floor  import s  ×floor  export MB")
        for size in events {
            let source = try TranscriptStore(folder: "\(dir)/source-\(size)")
            let session = try await BenchReplication.makeSession(events: size, in: source)
            try await session.closeSession()
            let state = await session.state
            let all = state.allEvents
            let bytes = all.map(\.bytes)
            let export = Transcript(state).json()
            for round in 1...rounds {
                let floor = BenchReplication.verificationFloor(all, roomKey: state.created.roomKey).all
                let store = try TranscriptStore(folder: "\(dir)/join-\(size)-\(round)")
                let start = ContinuousClock.now
                let verified = try await LiveSession.verify(bytes)
                let folded = ContinuousClock.now
                _ = try await LiveSession.adopt(verified, roomSecret: nil, nodeKey: SigningKey(), in: store)
                let stored = ContinuousClock.now
                let importer = try TranscriptStore(folder: "\(dir)/import-\(size)-\(round)")
                let importStart = ContinuousClock.now
                let result = try await importer.importTranscript(export)
                let imported = (ContinuousClock.now - importStart).seconds
                guard result.newEvents == all.count else { throw ValidationError("imported \(result.newEvents) of \(all.count) events") }
                let catchUp = (stored - start).seconds
                emit(
                    String(
                        format: "%6d  %8.3f  %10.3f  (%.3f + %.3f)  %6.2f  %8.3f  %6.2f  %9.1f", all.count, floor, catchUp,
                        (folded - start).seconds, (stored - folded).seconds, catchUp / floor, imported, imported / floor,
                        Double(export.count) / 1e6))
                try? FileManager.default.removeItem(atPath: "\(dir)/join-\(size)-\(round)")
                try? FileManager.default.removeItem(atPath: "\(dir)/import-\(size)-\(round)")
            }
        }
        try? FileManager.default.removeItem(atPath: dir)
    }
}
