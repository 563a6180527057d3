import Foundation
import Meeting
import Node
import Testing

/// Discovery against real avahi-daemons, each in its own network namespace (scripts/hall).
@Suite("Finding each other in a virtual hall", .serialized, .enabled(if: Hall.isRoot, "needs root for network namespaces"))
struct DiscoveryTests {
    let deck = CLI.repository.path + "/seeds/decks/real-man.deck"

    /// `halqa host` on host `i`, with a data folder of its own.
    func host(_ hall: Hall, _ i: Int, _ folder: TemporaryFolder, _ extra: [String] = []) throws -> Running {
        try hall.start(i, [CLI.binaries.appendingPathComponent("halqa").path, "host", "--deck", deck, "--port", "8080",
                           "--data", folder.path + "/\(i)"] + extra)
    }

    func list(_ hall: Hall, from i: Int, timeout: Double = 2.5) throws -> [[String: Any]] {
        let result = try hall.halqa(i, ["list", "--json", "--timeout", String(timeout)])
        #expect(result.status == 0, "\(result.stderr)")
        return (try? JSONSerialization.jsonObject(with: Data(result.stdout.utf8))) as? [[String: Any]] ?? []
    }

    func fingerprint(_ folder: String) throws -> String { try TranscriptStore(folder: folder).nodeKey.publicKey.fingerprint }

    @Test("three hosts find each other with the right addresses, ports and TXT, and Avahi's own browser sees them too")
    func hostsFindEachOther() async throws {
        try await onThread {
            let hall = try Hall(hosts: 3)
            let folder = TemporaryFolder()
            let one = try host(hall, 1, folder), two = try host(hall, 2, folder)
            #expect(one.waitFor("Announced on this network as") && two.waitFor("Announced on this network as"), "\(one.text)\n\(two.text)")
            let found = try list(hall, from: 3)
            #expect(found.count == 2)
            for (i, node) in [one, two].enumerated() {
                let n = i + 1
                let entry = try #require(found.first { $0["address"] as? String == hall.address(n) }, "host \(n) not found: \(found)")
                #expect(entry["port"] as? Int == 8080)
                #expect(entry["fingerprint"] as? String == (try fingerprint(folder.path + "/\(n)")))
                #expect(entry["protocolVersion"] as? String == "1")
                let session = String(node.text.split(separator: "(session ").last!.prefix(12))
                let id = try TranscriptStore(folder: folder.path + "/\(n)").resolveSession(session)
                #expect(entry["session"] as? String == Presence.tag(of: id))
            }
            // Each node's own browser reports the other.
            #expect(one.waitFor("Nearby: ") && one.text.contains("at \(hall.address(2)):8080"))
            #expect(two.waitFor("Nearby: ") && two.text.contains("at \(hall.address(1)):8080"))
            // A client we did not write.
            let avahi = try hall.run(3, ["timeout", "4", "avahi-browse", "-rpt", "_halqa._tcp"])
            #expect(avahi.stdout.contains(";\(hall.address(1));8080;") && avahi.stdout.contains(";\(hall.address(2));8080;"), "\(avahi.stdout)")
        }
    }

    @Test("Halqa's browser sees a service published with avahi-publish")
    func seesAvahiPublish() async throws {
        try await onThread {
            let hall = try Hall(hosts: 2)
            let publish = try hall.start(1, ["avahi-publish", "-s", "published-by-avahi", "_halqa._tcp", "9999", "v=1", "fp=TEST-TEST"])
            #expect(publish.waitFor("Established under name"))
            let found = try list(hall, from: 2)
            #expect(found.contains { $0["name"] as? String == "published-by-avahi" && $0["port"] as? Int == 9999
                && $0["address"] as? String == hall.address(1) && $0["fingerprint"] as? String == "TEST-TEST" }, "\(found)")
        }
    }

    @Test("two nodes asking for the same name both end up announced, under distinct names")
    func nameCollision() async throws {
        try await onThread {
            let hall = try Hall(hosts: 3)
            let folder = TemporaryFolder()
            let one = try host(hall, 1, folder, ["--name", "hall-laptop"])
            #expect(one.waitFor("Announced on this network as \"hall-laptop\""))
            let two = try host(hall, 2, folder, ["--name", "hall-laptop"])
            #expect(two.waitFor("Announced on this network as \"hall-laptop #2\""), "\(two.text)")
            let names = Set(try list(hall, from: 3).compactMap { $0["name"] as? String })
            #expect(names == ["hall-laptop", "hall-laptop #2"])
        }
    }

    @Test("after avahi-daemon restarts, the node is announced again and its browser works again, without restarting Halqa")
    func daemonRestart() async throws {
        try await onThread {
            let hall = try Hall(hosts: 3)
            let folder = TemporaryFolder()
            let one = try host(hall, 1, folder)
            #expect(one.waitFor("Announced on this network as"))
            try hall.control("avahi-stop", 1)
            #expect(one.waitFor("avahi-daemon is not running"), "\(one.text)")
            // Host 2 forgets everything it had cached, so what it sees next is fresh.
            try hall.control("avahi-stop", 2)
            try hall.control("avahi-start", 2)
            Thread.sleep(forTimeInterval: 1)
            #expect(try list(hall, from: 2, timeout: 2).isEmpty, "with its daemon down, host 1 cannot be seen")
            try hall.control("avahi-start", 1)
            #expect(one.waitFor("avahi-daemon is running again: announced as", seconds: 8), "\(one.text)")
            #expect(try list(hall, from: 2).contains { $0["address"] as? String == hall.address(1) })
            // Host 1's browser reports a node that appears after the restart.
            let three = try host(hall, 3, folder)
            #expect(three.waitFor("Announced on this network as"))
            #expect(one.waitFor("at \(hall.address(3)):8080", seconds: 8), "\(one.text)")
        }
    }

    @Test("a node stopped with SIGTERM withdraws its announcement and the others see it go")
    func leaving() async throws {
        try await onThread {
            let hall = try Hall(hosts: 2)
            let folder = TemporaryFolder()
            let one = try host(hall, 1, folder), two = try host(hall, 2, folder)
            #expect(two.waitFor("at \(hall.address(1)):8080"))
            let announced = try #require(one.text.range(of: "Announced on this network as \""))
            let name = String(one.text[announced.upperBound...].prefix { $0 != "\"" })
            one.stop(SIGTERM)
            #expect(one.text.contains("Stopped. Everything is saved"))
            #expect(two.waitFor("Gone: \(name)", seconds: 3), "\(two.text)")
        }
    }

    @Test("with no avahi-daemon, halqa host says so in one line and still serves; halqa list fails with the same advice")
    func noDaemon() async throws {
        try await onThread {
            let hall = try Hall(hosts: 1)
            try hall.control("avahi-stop", 1)
            let folder = TemporaryFolder()
            let one = try host(hall, 1, folder)
            #expect(one.waitFor("avahi-daemon is not running, so other nodes cannot find this one automatically. Start it with"))
            #expect(one.text.contains("or give them this address: http://\(hall.address(1)):8080/"))
            let page = try hall.run(1, ["curl", "-s", "-o", "/dev/null", "-w", "%{http_code}", "http://\(hall.address(1)):8080/"])
            #expect(page.stdout == "200")
            let list = try hall.halqa(1, ["list", "--timeout", "1"])
            #expect(list.status == 1 && list.stderr.contains("avahi-daemon is not running") && list.stderr.contains("systemctl start avahi-daemon"))
        }
    }

    @Test("what is announced holds nothing of the session's title, group or deck")
    func announcementsAreNeutral() async throws {
        try await onThread {
            let hall = try Hall(hosts: 2)
            let folder = TemporaryFolder()
            let title = "Mardan violence support group"
            let one = try host(hall, 1, folder, ["--title", title])
            #expect(one.waitFor("Announced on this network as"))
            let seen = try hall.run(2, ["timeout", "4", "avahi-browse", "-rpt", "_halqa._tcp"]).stdout
            #expect(seen.contains(";\(hall.address(1));8080;"))
            let name = try #require(try list(hall, from: 2).first?["name"] as? String)
            #expect(name.range(of: #"^halqa-[a-z0-9]{4}$"#, options: .regularExpression) != nil)
            // The words of the deck's title and prompts (in every language), and the session's title.
            let parsed = try DeckParser.parse(fileAt: deck).get()
            let deckText = (parsed.title.texts.values + parsed.prompts.flatMap { $0.text.texts.values }).joined(separator: " ")
            let deckWords = deckText.split(whereSeparator: { !$0.isLetter }).filter { $0.count >= 5 }
            let titleWords: [String] = title.components(separatedBy: " ")
            for word in Set(titleWords + deckWords.map { String($0) }) where word.count >= 5 {
                #expect(!seen.localizedCaseInsensitiveContains(word), "the LAN can read \"\(word)\"")
            }
        }
    }
}
