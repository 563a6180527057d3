import Foundation
import HalqaTestSupport
import Testing

/// Threat: a rogue machine on the hall's Wi-Fi that takes many addresses and sends wrong join
/// codes from all of them, to spend the node's shared allowance for guesses so that honest
/// phones and the facilitator are refused (429) and the meeting stops.
@Suite(
    "Guessing cannot lock out the meeting, in a virtual hall", .serialized, .enabled(if: Hall.isRoot, "needs root for network namespaces"))
struct GuessingInTheHallTests {
    @Test(
        "While 42 addresses send wrong join codes, a phone with the right code joins 10 times in 10 and the console answers 10 times in 10")
    func guessingCannotLockOut() async throws {
        try await onThread {
            let hall = try Hall(hosts: 3)
            let folder = TemporaryFolder()
            let halqa = CLI.binaries.appendingPathComponent("halqa").path
            let node = try hall.start(
                1,
                [
                    halqa, "host", "--deck", CLI.repository.path + "/seeds/decks/real-man.deck", "--port", "8080",
                    "--bind", hall.address(1), "--data", folder.path, "--no-discovery",
                ])
            defer { node.stop() }
            #expect(node.waitFor("Press Ctrl-C", seconds: 60), "\(node.text)")
            let code = try #require(node.text.range(of: "type  ").map { String(node.text[$0.upperBound...].prefix { !$0.isWhitespace }) })
            let secret = try #require(
                node.text.range(of: "facilitate#key=").map { String(node.text[$0.upperBound...].prefix { !$0.isWhitespace }) })
            // The attacker: 42 addresses on host 2, each guessing as fast as the node answers.
            for i in 0..<42 { try hall.addAddress(2, "198.18.0.\(100 + i)") }
            let guessers = try hall.start(
                2,
                [
                    "/usr/bin/python3", CLI.repository.path + "/scripts/abuse.py", "guess", hall.address(1), "8080",
                    "ZZZZ-ZZZZ", "--sources", "198.18.0.100", "--count", "42", "--seconds", "25",
                ])
            defer { guessers.stop() }
            Thread.sleep(forTimeInterval: 4)  // the shared allowance is long spent by now
            // The honest phone on host 3, and the console from another address of host 3.
            try hall.addAddress(3, "198.18.0.200")
            let url = "http://\(hall.address(1)):8080/"
            func statuses(_ command: [String]) throws -> [String] {
                try (0..<10).map { _ in
                    Thread.sleep(forTimeInterval: 0.5)
                    return try hall.run(3, ["curl", "-s", "-o", "/dev/null", "-w", "%{http_code}", "-m", "10"] + command).stdout
                }
            }
            let joins = try statuses([
                "-X", "POST", "-H", "Content-Type: application/json", "-d", #"{"code":"\#(code)"}"#, url + "api/join",
            ])
            let console = try statuses(["--interface", "198.18.0.200", "-H", "Authorization: Bearer \(secret)", url + "api/console"])
            #expect(guessers.waitFor("guessers:", seconds: 60))
            print("while guessing (\(guessers.text.trimmingCharacters(in: .whitespacesAndNewlines))): joins \(joins), console \(console)")
            #expect(guessers.text.contains("guess 403") && guessers.text.contains("guess 429"), "the attack did not run: \(guessers.text)")
            #expect(joins == Array(repeating: "201", count: 10), "the honest phone's joins: \(joins)")
            #expect(console == Array(repeating: "200", count: 10), "the console's answers: \(console)")
        }
    }
}
