import Foundation
import HalqaTestSupport
import Meeting
import Synchronization
import Testing

/// Three laptops in a virtual hall with real avahi-daemons: A hosts, B is admitted as
/// co-facilitator, C as archivist. The host dies, the meeting goes on, A comes back, C is cut
/// off and healed; at the end all three hold the same meeting and nothing acknowledged is lost.
@Suite(
    "A meeting that survives a dead laptop, in a virtual hall", .serialized, .enabled(if: Hall.isRoot, "needs root for network namespaces"))
struct HallReplicationTests {
    let deck = CLI.repository.path + "/seeds/decks/real-man.deck"
    var halqa: String { CLI.binaries.appendingPathComponent("halqa").path }

    /// Calls a node's API from host `from` (the test itself is outside the hall's network).
    func api(_ hall: Hall, from: Int, _ method: String, _ url: String, secret: String, json: String? = nil) throws -> [String: Any] {
        var command = ["curl", "-s", "-X", method, "-H", "Authorization: Bearer \(secret)", "-m", "10"]
        if let json { command += ["-H", "Content-Type: application/json", "-d", json] }
        let result = try hall.run(from, command + [url])
        return (try? JSONSerialization.jsonObject(with: Data(result.stdout.utf8))) as? [String: Any] ?? ["raw": result.stdout]
    }

    func after(_ marker: String, in text: String) -> String? {
        text.range(of: marker).map { String(text[$0.upperBound...].prefix { !$0.isWhitespace }) }
    }

    /// The next phone's address on the hall's LAN: each phone has its own, as on Wi-Fi (a
    /// node takes one reflection per prompt from one phone).
    static let phones = Mutex(100)

    /// Participants write through a node, each from a phone with its own address on host
    /// `from`; returns the texts it acknowledged.
    func participants(_ hall: Hall, from: Int, url: String, code: String, prompt: Int, prefix: String, count: Int) throws -> [String] {
        var acknowledged: [String] = []
        for i in 1...count {
            let phone = Self.phones.withLock {
                $0 += 1
                return $0
            }
            let address = "198.18.0.\(phone)"
            try hall.addAddress(from, address)
            func post(_ path: String, _ json: String, token: String? = nil) throws -> [String: Any] {
                var command = [
                    "curl", "-s", "--interface", address, "-m", "15", "-X", "POST", "-H", "Content-Type: application/json", "-d", json,
                ]
                if let token { command += ["-H", "Authorization: Bearer \(token)"] }
                command += ["-w", "\n%{http_code}", url + path]
                let lines = try hall.run(from, command).stdout.split(separator: "\n")
                var body =
                    (try? JSONSerialization.jsonObject(with: Data((lines.dropLast().joined(separator: "\n")).utf8))) as? [String: Any]
                    ?? [:]
                body["status"] = lines.last.map(String.init)
                return body
            }
            let joined = try post("api/join", #"{"code":"\#(code)"}"#)
            guard let token = joined["token"] as? String else {
                Issue.record("a phone could not join: \(joined)")
                continue
            }
            let text = "\(prefix)\(i)"
            if try post("api/reflections", #"{"prompt":\#(prompt),"text":"\#(text)"}"#, token: token)["status"] as? String == "201" {
                acknowledged.append(text)
            }
        }
        return acknowledged
    }

    func digest(_ folder: String, _ session: String) throws -> String {
        let result = try CLI.run(["digest", session, "--data", folder])
        return String(result.stdout.prefix(9))
    }

    func eventually(_ seconds: Double = 60, _ condition: () throws -> Bool) rethrows -> Bool {
        let deadline = Date().addingTimeInterval(seconds)
        while Date() < deadline {
            if try condition() { return true }
            Thread.sleep(forTimeInterval: 0.2)
        }
        return try condition()
    }

    /// Admits the waiting node named `name` on the console at `console`, after checking that
    /// the console shows a code the node printed.
    func admit(_ hall: Hall, console: String, secret: String, name: String, role: String, nodeOutput: Running) throws {
        var entry: [String: Any]?
        #expect(
            try eventually {
                let view = try api(hall, from: 3, "GET", console + "api/console", secret: secret)
                entry = ((view["nodes"] as? [String: Any])?["waiting"] as? [[String: Any]])?.first { $0["name"] as? String == name }
                return entry != nil
            }, "\(name) never asked to join")
        let code = try #require(entry?["code"] as? String)
        #expect(
            nodeOutput.waitFor("Confirmation code: \(code)", seconds: 60),
            "the console shows \(code); the node printed:\n\(nodeOutput.text)")
        let admitted = try api(
            hall, from: 3, "POST", console + "api/console/admit", secret: secret,
            json: #"{"node":"\#(entry!["id"] as! String)","role":"\#(role)"}"#)
        #expect(admitted["sessionID"] != nil, "\(admitted)")
        // The person at the node compares the digest with the console's, then says yes.
        #expect(nodeOutput.waitFor("type yes", seconds: 60), "\(nodeOutput.text)")
        let digest = try #require(admitted["digest"] as? String)
        #expect(
            nodeOutput.text.contains("digest \(digest)"), "the node shows another digest than the console's \(digest):\n\(nodeOutput.text)")
        nodeOutput.type("yes")
    }

    @Test(
        "kill -9 the host mid-prompt: participants go on through the co-facilitator, the archivist follows, the host catches up, a cut archivist converges; nothing acknowledged is lost"
    )
    func survivesADeadLaptop() async throws {
        try await onThread {
            let hall = try Hall(hosts: 3)
            let folder = TemporaryFolder()
            let a = folder.path + "/a"
            let b = folder.path + "/b"
            let c = folder.path + "/c"
            let urlA = "http://\(hall.address(1)):8080/"
            let urlB = "http://\(hall.address(2)):8080/"

            // A hosts.
            var hostA = try hall.start(
                1, [halqa, "host", "--deck", deck, "--port", "8080", "--data", a, "--minimum", "3", "--name", "laptop-a"])
            #expect(hostA.waitFor("Announced on this network as", seconds: 60), "\(hostA.text)")
            let session = try #require(after("(session ", in: hostA.text).map { String($0.prefix(12)) })
            let code = try #require(after("type  ", in: hostA.text))
            let secretA = try #require(after("facilitate#key=", in: hostA.text))

            // B asks to join, shows a code; the facilitator compares and admits it as co-facilitator.
            let nodeB = try hall.start(2, [halqa, "node", "--port", "8080", "--data", b, "--name", "laptop-b"])
            try admit(hall, console: urlA, secret: secretA, name: "laptop-b", role: "co-facilitator", nodeOutput: nodeB)
            #expect(nodeB.waitFor("facilitate#key=", seconds: 60), "\(nodeB.text)")
            let secretB = try #require(after("facilitate#key=", in: nodeB.text))
            // C asks too, and is admitted as archivist.
            // B announces the session now too, and a joining laptop asks one host at a time: C
            // calls A by its address, so that A's console is where it waits.
            let nodeC = try hall.start(
                3, [halqa, "node", "--join", "\(hall.address(1)):8081", "--port", "8080", "--data", c, "--name", "organiser"])
            try admit(hall, console: urlA, secret: secretA, name: "organiser", role: "archivist", nodeOutput: nodeC)
            #expect(nodeC.waitFor("as archivist", seconds: 60), "\(nodeC.text)")
            #expect(
                try eventually {
                    let nodes = try api(hall, from: 3, "GET", urlA + "api/console", secret: secretA)["nodes"] as? [String: Any]
                    let admitted = nodes?["admitted"] as? [[String: Any]] ?? []
                    return admitted.count == 2 && admitted.allSatisfy { $0["connected"] as? Bool == true }
                }, "A never linked with B and C")

            // Prompt 1: participants write through A; B stands by while A runs (a phone that
            // wrote on A cannot write again on B).
            _ = try api(hall, from: 3, "POST", urlA + "api/console/open", secret: secretA, json: #"{"prompt":0}"#)
            var acknowledged = try participants(hall, from: 3, url: urlA, code: code, prompt: 0, prefix: "through-A-", count: 4)
            #expect(acknowledged.count == 4)
            let onB = try participants(hall, from: 1, url: urlB, code: code, prompt: 0, prefix: "through-B-", count: 2)
            #expect(onB.isEmpty, "B took reflections while A ran: \(onB)")

            // The host's laptop dies mid-prompt. The meeting goes on through B, which reveals.
            hostA.stop(SIGKILL)
            #expect(
                try eventually {
                    let nodes = try api(hall, from: 3, "GET", urlB + "api/console", secret: secretB)["nodes"] as? [String: Any]
                    return (nodes?["admitted"] as? [[String: Any]] ?? []).contains {
                        $0["name"] as? String == "creator" && $0["connected"] as? Bool == false
                    }
                }, "B did not notice A was gone")
            acknowledged += try participants(hall, from: 3, url: urlB, code: code, prompt: 0, prefix: "after-A-died-", count: 3)
            #expect(acknowledged.count == 7)
            let revealed = try api(hall, from: 3, "POST", urlB + "api/console/reveal", secret: secretB, json: #"{"prompt":0}"#)
            #expect(((revealed["prompts"] as? [[String: Any]])?.first?["revealed"] as? [Any])?.count == 7, "\(revealed)")
            // C follows.
            #expect(try eventually { try digest(c, session) == digest(b, session) }, "C did not follow B")

            // A comes back and catches up.
            hostA = try hall.start(1, [halqa, "host", "--resume", session, "--port", "8080", "--data", a, "--name", "laptop-a"])
            #expect(hostA.waitFor("Announced on this network as", seconds: 60), "\(hostA.text)")
            #expect(try eventually { try digest(a, session) == digest(b, session) }, "A did not catch up:\n\(hostA.text)")

            // C is cut off the LAN; the meeting goes on; C is plugged back and converges.
            try hall.control("cut", 3)
            _ = try api(hall, from: 2, "POST", urlA + "api/console/open", secret: secretA, json: #"{"prompt":1}"#)
            acknowledged += try participants(hall, from: 2, url: urlA, code: code, prompt: 1, prefix: "while-C-was-away-", count: 3)
            _ = try api(hall, from: 1, "POST", urlB + "api/console/reveal", secret: secretB, json: #"{"prompt":1}"#)
            #expect(acknowledged.count == 10)
            Thread.sleep(forTimeInterval: 2)
            #expect(try digest(c, session) != digest(a, session), "C should not have heard of prompt 2 while cut off")
            try hall.control("heal", 3)
            let converged = try eventually(90) { try digest(c, session) == digest(a, session) && digest(a, session) == digest(b, session) }
            let digests = try [a, b, c].map { try digest($0, session) }
            #expect(converged, "the three digests differ: \(digests)")

            // Every acknowledged reflection is in every node's transcript exactly once.
            for node in [a, b, c] {
                let export = try CLI.run(["export", session, "--format", "json", "--data", node])
                let json = try #require(try JSONSerialization.jsonObject(with: Data(export.stdout.utf8)) as? [String: Any])
                let texts = (json["prompts"] as? [[String: Any]] ?? []).flatMap {
                    ($0["reflections"] as? [[String: Any]] ?? []).compactMap { $0["text"] as? String }
                }
                #expect(texts.sorted() == acknowledged.sorted(), "\(node): \(texts.sorted())")
            }
            hostA.stop()
            nodeB.stop()
            nodeC.stop()
        }
    }
}
