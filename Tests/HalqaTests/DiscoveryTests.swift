import Foundation
import HalqaTestSupport
import Meeting
import Node
import Testing

/// Discovery against real avahi-daemons, each in its own network namespace (scripts/hall).
@Suite("Finding each other in a virtual hall", .serialized, .enabled(if: Hall.isRoot, "needs root for network namespaces"))
struct DiscoveryTests {
    let deck = CLI.repository.path + "/seeds/decks/real-man.deck"

    /// `halqa host` on host `i`, with a data folder of its own.
    func host(_ hall: Hall, _ i: Int, _ folder: TemporaryFolder, _ extra: [String] = []) throws -> Running {
        try hall.start(
            i,
            [
                CLI.binaries.appendingPathComponent("halqa").path, "host", "--deck", deck, "--port", "8080",
                "--data", folder.path + "/\(i)",
            ] + extra)
    }

    func list(_ hall: Hall, from i: Int, timeout: Double = 2.5) throws -> [[String: Any]] {
        let result = try hall.halqa(i, ["list", "--json", "--timeout", String(timeout)])
        #expect(result.status == 0, "\(result.stderr)")
        return (try? JSONSerialization.jsonObject(with: Data(result.stdout.utf8))) as? [[String: Any]] ?? []
    }

    /// The tag a node announces for the session it hosts (its key and the session's id).
    func nodeTag(_ folder: String, session: String) throws -> String {
        let store = try TranscriptStore(folder: folder)
        let id = try store.resolveSession(session)
        return Presence.nodeTag(of: try store.sessionKey(of: id).publicKey, in: id)
    }

    @Test("three hosts find each other with the right addresses, ports and TXT, and Avahi's own browser sees them too")
    func hostsFindEachOther() async throws {
        try await onThread {
            let hall = try Hall(hosts: 3)
            let folder = TemporaryFolder()
            let one = try host(hall, 1, folder)
            let two = try host(hall, 2, folder)
            #expect(one.waitFor("Announced on this network as") && two.waitFor("Announced on this network as"), "\(one.text)\n\(two.text)")
            let found = try list(hall, from: 3)
            #expect(found.count == 2)
            for (i, node) in [one, two].enumerated() {
                let n = i + 1
                let entry = try #require(found.first { $0["address"] as? String == hall.address(n) }, "host \(n) not found: \(found)")
                #expect(entry["port"] as? Int == 8080)
                let session = String(node.text.split(separator: "(session ").last!.prefix(12))
                #expect(entry["node"] as? String == (try nodeTag(folder.path + "/\(n)", session: session)))
                #expect(entry["protocolVersion"] as? String == "1")
                let id = try TranscriptStore(folder: folder.path + "/\(n)").resolveSession(session)
                #expect(entry["session"] as? String == Presence.tag(of: id))
            }
            // Each node's own browser reports the other.
            #expect(one.waitFor("Nearby: ") && one.text.contains("at \(hall.address(2)):8080"))
            #expect(two.waitFor("Nearby: ") && two.text.contains("at \(hall.address(1)):8080"))
            // A client we did not write.
            let avahi = try hall.run(3, ["timeout", "4", "avahi-browse", "-rpt", "_halqa._tcp"])
            #expect(
                avahi.stdout.contains(";\(hall.address(1));8080;") && avahi.stdout.contains(";\(hall.address(2));8080;"), "\(avahi.stdout)")
        }
    }

    @Test("Halqa's browser sees a service published with avahi-publish")
    func seesAvahiPublish() async throws {
        try await onThread {
            let hall = try Hall(hosts: 2)
            let publish = try hall.start(1, ["avahi-publish", "-s", "published-by-avahi", "_halqa._tcp", "9999", "v=1", "n=0123456789ab"])
            #expect(publish.waitFor("Established under name"))
            let found = try list(hall, from: 2)
            #expect(
                found.contains {
                    $0["name"] as? String == "published-by-avahi" && $0["port"] as? Int == 9999
                        && $0["address"] as? String == hall.address(1) && $0["node"] as? String == "0123456789ab"
                }, "\(found)")
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
            let one = try host(hall, 1, folder)
            let two = try host(hall, 2, folder)
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
            #expect(
                list.status == 1 && list.stderr.contains("avahi-daemon is not running")
                    && list.stderr.contains("systemctl start avahi-daemon"))
        }
    }

    /// Threat: an observer who listens to mDNS in one hall and then another, to recognise the
    /// facilitator's laptop from one town or meeting to the next.
    @Test(
        "nothing announced, nor the key the peer port shows, is the same from one meeting to the next on the same laptop; names from the LAN are printed without control characters"
    )
    func nothingRecognisable() async throws {
        try await onThread {
            let hall = try Hall(hosts: 2)
            let folder = TemporaryFolder()
            func announced() throws -> [String] {
                let seen = try hall.run(2, ["timeout", "4", "avahi-browse", "-rpt", "_halqa._tcp"]).stdout
                // ";"-separated: the resolved lines ("=") carry the name and the TXT records.
                guard let line = seen.split(separator: "\n").first(where: { $0.hasPrefix("=") && $0.contains(hall.address(1)) }) else {
                    return []
                }
                let fields = line.split(separator: ";", omittingEmptySubsequences: false).map(String.init)
                return [fields[3]]
                    + (fields.last ?? "").split(separator: " ").map(String.init).filter { !$0.contains("\"v=") && !$0.contains("\"pp=") }
            }
            /// The public key the node-to-node port shows to anyone who connects (its TLS certificate).
            func certificateKey() throws -> String {
                try hall.run(
                    2,
                    [
                        "sh", "-c",
                        "timeout 5 openssl s_client -connect \(hall.address(1)):8081 </dev/null 2>/dev/null | openssl x509 -noout -pubkey",
                    ]
                ).stdout
            }
            var meetings: [[String]] = []
            for _ in 0..<2 {
                let one = try host(hall, 1, folder)  // the same data folder: the same laptop, the same key
                #expect(one.waitFor("Announced on this network as"))
                let shown = try certificateKey()
                #expect(shown.contains("BEGIN PUBLIC KEY"), "the peer port showed no certificate: \(shown)")
                meetings.append(try announced() + [shown])
                one.stop(SIGTERM)
                Thread.sleep(forTimeInterval: 1.5)
            }
            print("announced at two meetings: \(meetings)")
            #expect(meetings[0].count >= 3 && meetings[1].count >= 3, "\(meetings)")
            #expect(Set(meetings[0]).isDisjoint(with: meetings[1]), "the same laptop announces the same value at two meetings: \(meetings)")
            let key = try TranscriptStore(folder: folder.path + "/1").nodeKey.publicKey.fingerprint
            #expect(!meetings.joined().contains { $0.contains(key) }, "the node's lasting key is announced")
            // A machine announces a name with terminal escape sequences and a right-to-left override.
            let listener = try host(hall, 1, folder)
            #expect(listener.waitFor("Announced on this network as"))
            let hostile = "evil\u{1B}[2J\u{1B}]0;pwned\u{07}\u{202E}gnp.exe"
            let publish = try hall.start(2, ["avahi-publish", "-s", hostile, "_halqa._tcp", "9999", "v=1"])
            #expect(publish.waitFor("Established under name"))
            #expect(listener.waitFor("Nearby: evil", seconds: 10), "\(listener.text)")
            let printed = listener.text + (try hall.halqa(1, ["list", "--timeout", "2.5"])).stdout
            #expect(printed.contains("evil[2J]0;pwnedgnp.exe"), "\(printed)")
            #expect(
                !printed.unicodeScalars.contains { $0 == "\u{1B}" || $0 == "\u{07}" || $0 == "\u{202E}" },
                "a control character reached the terminal")
            publish.stop()
            listener.stop()
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
