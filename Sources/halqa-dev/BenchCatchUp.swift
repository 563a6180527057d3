import ArgumentParser
import Foundation
import Meeting

/// Catch-up and import on this machine alone, without the network: what a joining node does
/// once the session's bytes have arrived (verify, fold, store) and what `halqa import` does
/// with the same session's export, each next to what verifying the signatures alone takes on
/// all cores, in one run (issue 16, part 3). Two catch-ups: a co-facilitator admitted while
/// the meeting runs (the issue's case: every reflection, nothing to index for search yet), and
/// an archivist taking the session once closed (only what was shown, indexed for search, as
/// `halqa import` does). scripts/bench-replication measures the catch-up over the real
/// transport too.
struct BenchCatchUp: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "bench-catchup",
        abstract: "Time verifying and storing a session (catch-up after transfer, and import) next to verifying its signatures alone.")

    @Option(help: "A data folder (emptied first).") var dir: String
    @Option(help: "Sizes of session to measure, in events.") var events: [Int] = [10_000]
    @Option(help: "Runs of each measurement.") var rounds = 3

    func run() async throws {
        try? FileManager.default.removeItem(atPath: dir)
        emit(
            "cores: \(ProcessInfo.processInfo.activeProcessorCount); each time also as × the floor (wall), and its CPU time as × the floor's"
        )
        emit("events   floor s (mean)   live co-facilitator catch-up s (verify + store)   closed, archivist s (verify + store)   import s")
        for size in events {
            let source = try TranscriptStore(folder: "\(dir)/source-\(size)")
            let session = try await BenchReplication.makeSession(events: size, in: source)
            let coFacilitator = SigningKey()
            try await session.admit(coFacilitator.publicKey, as: .coFacilitator, name: "bench")
            let live = await session.state
            try await session.closeSession()
            let closed = await session.state
            let export = Transcript(closed).json()
            let roomKey = closed.created.roomKey
            for round in 1...rounds {
                // This machine's speed drifts from one second to the next (other guests on the
                // host), so each measurement is set against the mean of a floor taken just
                // before it and one just after. The floor is the closed session's events: the
                // live session's and its closing.
                var floors = [BenchReplication.verificationFloor(closed.allEvents, roomKey: roomKey, oneCore: false)]
                func ratios(_ spent: BenchArchive.Spent) -> String {
                    floors.append(BenchReplication.verificationFloor(closed.allEvents, roomKey: roomKey, oneCore: false))
                    let (before, after) = (floors[floors.count - 2], floors[floors.count - 1])
                    return String(
                        format: "%.3f ×%.2f cpu ×%.2f", spent.wall, 2 * spent.wall / (before.all + after.all),
                        2 * spent.cpu / (before.allCPU + after.allCPU))
                }
                let coFacilitating = try await catchUp(
                    live, as: coFacilitator, roomSecret: session.roomKeyForCoFacilitators, folder: "\(dir)/join-\(size)-\(round)")
                let liveFigures = ratios(coFacilitating.verify + coFacilitating.store)
                let archiving = try await catchUp(closed, as: SigningKey(), roomSecret: nil, folder: "\(dir)/archive-\(size)-\(round)")
                let archiveFigures = ratios(archiving.verify + archiving.store)
                let importer = try TranscriptStore(folder: "\(dir)/import-\(size)-\(round)")
                var result: TranscriptStore.ImportResult?
                let importing = try await BenchArchive.measure { result = try await importer.importTranscript(export) }
                guard result?.newEvents == closed.allEvents.count else {
                    throw ValidationError("imported \(result?.newEvents ?? 0) of \(closed.allEvents.count) events")
                }
                let importFigures = ratios(importing)
                let floor = floors.map(\.all).reduce(0, +) / Double(floors.count)
                emit(
                    String(format: "%6d  %8.3f   ", closed.allEvents.count, floor)
                        + "\(liveFigures) (\(String(format: "%.3f + %.3f", coFacilitating.verify.wall, coFacilitating.store.wall)))   "
                        + "\(archiveFigures) (\(String(format: "%.3f + %.3f", archiving.verify.wall, archiving.store.wall)))   "
                        + importFigures)
                for folder in ["join", "archive", "import"] {
                    try? FileManager.default.removeItem(atPath: "\(dir)/\(folder)-\(size)-\(round)")
                }
            }
        }
        try? FileManager.default.removeItem(atPath: dir)
    }

    /// A joining node's work once `state`'s bytes have arrived: verifying and folding them, then
    /// storing them in a new data folder under `key`.
    private func catchUp(
        _ state: SessionState, as key: SigningKey, roomSecret: SigningKey?, folder: String
    ) async throws -> (verify: BenchArchive.Spent, store: BenchArchive.Spent) {
        let bytes = state.allEvents.map(\.bytes)
        let store = try TranscriptStore(folder: folder)
        var verified: SessionState?
        let verifying = try await BenchArchive.measure { verified = try await LiveSession.verify(bytes) }
        guard let verified, verified.allEvents.count == bytes.count else { throw ValidationError("a catch-up lost events") }
        let storing = try await BenchArchive.measure {
            _ = try await LiveSession.adopt(verified, roomSecret: roomSecret, nodeKey: key, in: store)
        }
        return (verifying, storing)
    }
}
