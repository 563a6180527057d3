import Foundation
import Meeting
import Testing

/// Programmes: a group's course of weekly sessions (docs/decks.md, "Programmes").
@Suite("Programmes, week after week", .serialized)
struct ProgrammeTests {
    static let move = "seeds/programmes/move.programme"

    @Test("the shipped programme and every deck it names are sound")
    func seededProgramme() throws {
        let result = try CLI.run(["deck", "check", Self.move])
        #expect(result.status == 0, "\(result.stderr)")
        #expect(result.stdout.contains("ok — programme \"MOVE: Men Overcoming Violence for Equality\", 12 weeks"))
        for week in 1...12 { #expect(result.stdout.contains("week \(week): move/")) }
        #expect(!result.stdout.contains(" 0 check-ins"))
        #expect(result.stdout.components(separatedBy: "and 2 check-ins").count == 13, "every week opens and closes with a check-in")
    }

    @Test("a broken programme file gets an error for each mistake, pointing at its line")
    func mistakesPointAtLines() throws {
        let folder = TemporaryFolder()
        try FileManager.default.createDirectory(atPath: folder.path + "/weeks", withIntermediateDirectories: true)
        try "title: One\n[prompt]\nen: What helped?\n".write(toFile: folder.path + "/weeks/one.deck", atomically: true, encoding: .utf8)
        try "title: Two\n[prompt]\nen:\n".write(toFile: folder.path + "/weeks/broken.deck", atomically: true, encoding: .utf8)
        let file = folder.path + "/bad.programme"
        try """
        # a programme with mistakes
        title: A course
        week 1: weeks/one.deck
        week 1: weeks/one.deck
        week two: weeks/one.deck
        week 2: weeks/missing.deck
        week 3: weeks/broken.deck
        week 5: weeks/one.deck
        weak 6: weeks/one.deck
        """.write(toFile: file, atomically: true, encoding: .utf8)
        let result = try CLI.run(["deck", "check", file])
        #expect(result.status == 1)
        let expected = [
            "bad.programme:4: week 1 is given twice (first on line 3)",
            "bad.programme:5: \"two\" is not a week",
            "bad.programme:6: week 2's deck cannot be used: weeks/missing.deck: cannot read the file",
            "bad.programme:7: week 3's deck cannot be used: weeks/broken.deck:3: \"en:\" has nothing after the colon",
            "bad.programme:8: weeks/one.deck is already week 1 (line 3)",
            "bad.programme:8: week 4 is missing",
            "bad.programme:9: unknown field \"weak 6\"",
            "bad.programme: 7 problems",
        ]
        for line in expected { #expect(result.stderr.contains(line), "\(line)\n\(result.stderr)") }
        // `halqa host` refuses it the same way, before anything listens.
        let host = try CLI.run(["host", "--programme", file, "--group", "Cedar", "--data", folder.path + "/data", "--no-discovery"])
        #expect(host.status == 1 && host.stderr.contains("bad.programme:4: week 1 is given twice"), "\(host.stderr)")
        let noGroup = try CLI.run(["host", "--programme", Self.move, "--data", folder.path + "/data"])
        #expect(noGroup.status != 0 && noGroup.stderr.contains("--programme needs --group"), "\(noGroup.stderr)")
    }

    /// Starts the next week (or what `extra` asks) of `group` on the node whose data is `data`;
    /// returns the week its banner names, the session, and the running node.
    static func host(_ data: String, group: String, _ extra: [String] = []) async throws -> (week: Int?, node: HostProcess) {
        // Any free port for other nodes: the default (the web port + 1) may be another test's.
        let node = try HostProcess((extra.isEmpty ? ["--programme", move, "--group", group] : extra) + ["--peer-port", "0"], data: data)
        guard await node.waitUntilReady() else {
            Issue.record("halqa host did not start: \(node.rest())")
            return (nil, node)
        }
        let week = node.banner.range(of: "Week ").flatMap { Int(node.banner[$0.upperBound...].prefix { $0.isNumber }) }
        return (week, node)
    }

    @Test(
        "12 weeks hosted one after another continue at the right week: after --resume, for another group, and on a co-facilitator's laptop that holds the sessions; the console shows last week's check-in counts"
    )
    func weekAfterWeek() async throws {
        let folder = TemporaryFolder()
        let laptop = folder.path + "/facilitator"
        let other = folder.path + "/co-facilitator"
        var sessions: [String] = []
        for expected in 1...6 {
            let (week, node) = try await Self.host(laptop, group: "Cedar")
            #expect(week == expected, "\(node.banner)")
            #expect(node.banner.contains("of 12 of \"MOVE: Men Overcoming Violence for Equality\", group \"Cedar\""))
            sessions.append(node.session)
            if expected == 1 {
                // Week 1's opening check-in, answered by three phones and revealed.
                _ = try await node.call("POST", "/api/console/open", token: node.secret, json: #"{"prompt":0}"#)
                for option in [4, 3, 3] {
                    let (_, joined) = try await node.call("POST", "/api/join", json: #"{"code":"\#(node.joinCode)"}"#)
                    let token = try #require(joined["token"] as? String)
                    let (status, _) = try await node.call("POST", "/api/answers", token: token, json: #"{"prompt":0,"option":\#(option)}"#)
                    #expect(status == 201)
                }
                let (revealed, _) = try await node.call("POST", "/api/console/reveal", token: node.secret, json: #"{"prompt":0}"#)
                #expect(revealed == 200)
            }
            if expected == 2 {
                let (_, console) = try await node.call("GET", "/api/console", token: node.secret)
                let programme = try #require(console["programme"] as? [String: Any])
                #expect(programme["week"] as? Int == 2 && programme["weeks"] as? Int == 12 && programme["group"] as? String == "Cedar")
                let last = try #require((programme["lastWeek"] as? [[String: Any]])?.first)
                #expect(last["counts"] as? [Int] == [0, 0, 0, 2, 1] && last["scale"] as? String == "faces")
                // Phones are told nothing of the group or the programme.
                let (_, joined) = try await node.call("POST", "/api/join", json: #"{"code":"\#(node.joinCode)"}"#)
                #expect(!String(describing: joined).contains("Cedar"))
            }
            node.stop(SIGTERM)
        }
        // Resuming week 3 holds week 3 again; the next new session is still week 7.
        let (resumed, node) = try await Self.host(laptop, group: "Cedar", ["--resume", sessions[2]])
        #expect(resumed == 3, "\(node.banner)")
        node.stop(SIGTERM)
        // Another group on the same laptop starts at its own week 1.
        let (willow, willowNode) = try await Self.host(laptop, group: "Willow")
        #expect(willow == 1)
        willowNode.stop(SIGTERM)
        // The laptop is replaced: its co-facilitator's holds every session (here brought over as
        // an organiser would, `halqa export` and `halqa import`) and goes on with week 7.
        for session in sessions {
            let file = folder.path + "/\(session).json"
            let exported = try CLI.run(["export", session, "--format", "json", "--output", file, "--data", laptop])
            #expect(exported.status == 0, "\(exported.stderr)")
            let imported = try CLI.run(["import", file, "--data", other])
            #expect(imported.status == 0, "\(imported.stderr)")
        }
        for expected in 7...12 {
            let (week, node) = try await Self.host(other, group: "Cedar")
            #expect(week == expected, "\(node.banner)")
            node.stop(SIGTERM)
        }
        // Every week held: a clear refusal (a node that started anyway is stopped, not waited for).
        let done = try HostProcess(["--programme", Self.move, "--group", "Cedar", "--peer-port", "0"], data: other)
        let started = await done.waitUntilReady()
        if started { done.stop(SIGTERM) } else { done.process.waitUntilExit() }
        #expect(!started && done.process.terminationStatus == 1 && done.rest().contains("has held every week"), "\(done.banner)")
        let (again, againNode) = try await Self.host(other, group: "Cedar", ["--programme", Self.move, "--group", "Cedar", "--week", "12"])
        #expect(again == 12)
        againNode.stop(SIGTERM)
        let listed = try CLI.run(["sessions", "--data", other])
        #expect(listed.stdout.contains("7/12 Cedar") && listed.stdout.contains("1/12 Cedar"), "\(listed.stdout)")
        let json = try CLI.run(["export", sessions[0], "--format", "json", "--data", other])
        #expect(json.stdout.contains("\"group\" : \"Cedar\"") && json.stdout.contains("\"scale\" : \"faces\""))
    }
}
