import Foundation
import Testing

/// Threat: a machine on the LAN (or a deck from anywhere) sending bytes crafted to crash a
/// node. Every input the fuzzers kept or that once crashed a decoder (Tests/fuzz/TARGET, see
/// scripts/fuzz) is replayed through the same properties the fuzzers check; a crash here is
/// a decoder that regressed.
@Suite("Inputs the fuzzers found")
struct FuzzRegressionTests {
    @Test(
        "replication frames, events, decks and transcripts kept by the fuzzers are decoded or refused, never a crash",
        arguments: ["peer-message", "event", "deck", "transcript"])
    func replay(target: String) throws {
        let folder = CLI.repository.appendingPathComponent("Tests/fuzz/" + target).path
        let files = try FileManager.default.contentsOfDirectory(atPath: folder).sorted().map { folder + "/" + $0 }
        #expect(files.count >= 2, "Tests/fuzz/\(target) lost its inputs")
        let result = try CLI.run([target] + files, tool: "halqa-fuzz")
        #expect(
            result.status == 0 && result.stdout.contains("\(files.count) inputs checked"),
            "a decoder crashed on an input in Tests/fuzz/\(target):\n\(result.stderr.prefix(2000))")
    }
}
