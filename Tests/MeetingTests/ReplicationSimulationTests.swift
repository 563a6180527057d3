import Foundation
import HalqaTestSupport
import Testing
@testable import Meeting

/// A deterministic, seeded simulation of replicas on a faulty network: messages delayed,
/// duplicated, reordered and dropped; links cut; nodes crashed (a crashed node keeps what it
/// stored, and loses what was in flight to it).
struct SimulatedHall {
    struct Node {
        var replica: Replica
        var up = true
        var facilitatorKey: SigningKey?
        var holdsRoomKey: Bool
    }
    struct InFlight { var at: Int; var from: Int; var to: Int; var message: Replica.Message }

    var rng: SplitMix64
    var nodes: [Node] = []
    var flight: [InFlight] = []
    var cut: [Set<Int>: Int] = [:]  // link -> tick it heals
    var downUntil: [Int: Int] = [:]
    var tick = 0
    let room = SigningKey()
    let forger = SigningKey()
    var faults = true
    var forgedSent = 0

    init(seed: UInt64, nodes count: Int, verifies: Bool) {
        rng = SplitMix64(seed: seed)
        let creator = SigningKey(), second = SigningKey()
        let created = SessionCreated(title: "Simulated \(seed)", deck: trilingualDeck(prompts: 4), minimumToReveal: 2,
                                     roomKey: room.publicKey, nonce: randomBytes(16))
        let first = Event.facilitator(.sessionCreated(created), session: nil, by: creator, at: 1, clock: 0)
        let grant = Event.facilitator(.facilitatorGranted(key: second.publicKey), session: first.id, by: creator, at: 2, clock: 1)
        var state = try! SessionState(events: [first, grant])
        state.insert(grant)
        for i in 0..<count {
            // Nodes 0 and 1 facilitate; the others are co-facilitators or archivists at random.
            let role: Replica.Role = i < 2 || Bool.random(using: &rng) ? .coFacilitator : .archivist
            nodes.append(Node(replica: Replica(state: state, role: role, verifies: verifies),
                              facilitatorKey: i == 0 ? creator : i == 1 ? second : nil, holdsRoomKey: role == .coFacilitator))
        }
    }

    mutating func send(_ message: Replica.Message, from: Int, to: Int) {
        guard !faults || Double.random(in: 0..<1, using: &rng) > 0.15 else { return }  // dropped
        let copies = faults && Double.random(in: 0..<1, using: &rng) < 0.1 ? 2 : 1  // duplicated
        for _ in 0..<copies {
            flight.append(InFlight(at: tick + (faults ? Int.random(in: 1...6, using: &rng) : 1), from: from, to: to, message: message))
        }
    }

    func linked(_ a: Int, _ b: Int) -> Bool { cut[[a, b]] == nil }

    /// One tick: maybe a fault, maybe an action on some node, a round of summaries, deliveries.
    mutating func step(acting: Bool) {
        tick += 1
        if faults {
            if Int.random(in: 0..<25, using: &rng) == 0 {
                let a = Int.random(in: 0..<nodes.count, using: &rng), b = Int.random(in: 0..<nodes.count, using: &rng)
                if a != b { cut[[a, b]] = tick + Int.random(in: 5...30, using: &rng) }
            }
            if Int.random(in: 0..<40, using: &rng) == 0 {
                let n = Int.random(in: 0..<nodes.count, using: &rng)
                nodes[n].up = false
                downUntil[n] = tick + Int.random(in: 3...20, using: &rng)
                flight.removeAll { $0.to == n }
            }
        }
        for (link, until) in cut where until <= tick { cut[link] = nil }
        for (n, until) in downUntil where until <= tick { nodes[n].up = true; downUntil[n] = nil }
        if acting { act() }
        for from in nodes.indices where nodes[from].up {
            for to in nodes.indices where to != from && (!faults || Bool.random(using: &rng)) {
                send(nodes[from].replica.summary(), from: from, to: to)
            }
        }
        var due = flight.filter { $0.at <= tick }
        flight.removeAll { $0.at <= tick }
        due.shuffle(using: &rng)  // reordered
        for m in due where nodes[m.to].up && nodes[m.from].up && linked(m.from, m.to) {
            let replies = nodes[m.to].replica.receive(m.message, from: nodes[m.from].replica.role)
            for reply in replies { send(reply, from: m.to, to: m.from) }
        }
    }

    /// Something happens in the meeting, on one node, as that node sees it.
    mutating func act() {
        let n = Int.random(in: 0..<nodes.count, using: &rng)
        guard nodes[n].up else { return }
        let state = nodes[n].replica.state
        let open = state.openPrompt
        let roll = Int.random(in: 0..<100, using: &rng)
        if nodes[n].holdsRoomKey, let open, roll < 45 {
            let event = Event.participant(.reflectionSubmitted(prompt: open, text: "words \(rng.next() % 10_000)", nonce: randomBytes(16)),
                                          session: state.id, roomKey: room)
            nodes[n].replica.record(event)
            return
        }
        if nodes[n].holdsRoomKey, roll < 55,
           let target = state.prompts.indices.flatMap({ state.revealed(prompt: $0) }).filter({ $0.hiddenReason == nil }).randomElement(using: &rng) {
            nodes[n].replica.record(Event.participant(.resonated(reflection: target.id, nonce: randomBytes(16)), session: state.id, roomKey: room))
            return
        }
        if roll >= 95, forgedSent < 3 {
            // A forged facilitator event, sent as if it came from this node.
            forgedSent += 1
            let forged = Event.facilitator(.sessionClosed, session: state.id, by: forger, at: 9, clock: state.clock + 1)
            for to in nodes.indices where to != n { send(.events(session: state.id, [forged.bytes]), from: n, to: to) }
            return
        }
        guard let key = nodes[n].facilitatorKey else { return }
        let body: EventBody
        switch roll {
        case 55..<68: body = .promptOpened(prompt: Int.random(in: 0..<state.prompts.count, using: &rng))
        case 68..<80:
            guard let open else { return }
            body = .reflectionsRevealed(prompt: open, order: state.pendingIDs(prompt: open).sorted().shuffled(using: &rng))
        case 80..<86: guard let open else { return }; body = .promptClosed(prompt: open)
        case 86..<90:
            guard let target = state.prompts.indices.flatMap({ state.revealed(prompt: $0) }).randomElement(using: &rng) else { return }
            body = .reflectionHidden(reflection: target.id, reason: "names someone")
        default: body = .noteWritten(prompt: open, text: "note \(tick)")
        }
        guard (try? state.check(body, by: key.publicKey)) != nil else { return }
        nodes[n].replica.record(Event.facilitator(body, session: state.id, by: key, at: Int64(tick), clock: state.clock + 1))
    }

    /// Closes the session from node 0, heals everything, and runs fault-free rounds (each
    /// node summarises to each peer every round; a message takes one round).
    mutating func finish() {
        nodes[0].up = true
        let state = nodes[0].replica.state
        if !state.isClosed, let key = nodes[0].facilitatorKey {
            nodes[0].replica.record(Event.facilitator(.sessionClosed, session: state.id, by: key, at: Int64(tick), clock: state.clock + 1))
        }
        faults = false
        cut = [:]
        downUntil = [:]
        for n in nodes.indices { nodes[n].up = true }
        for _ in 0..<12 { step(acting: false) }
    }
}

@Suite("Replication: a seeded simulation of replicas on a faulty network")
struct ReplicationSimulationTests {
    /// What must agree between replicas: the transcript, the hidden reflections, the clock.
    struct Agreed: Equatable { var transcript: Transcript; var hidden: [EventID: String]; var clock: Int; var digest: EventSetDigest }

    static func agreed(_ replica: Replica) -> Agreed {
        var replica = replica
        return Agreed(transcript: Transcript(replica.state), hidden: replica.state.hiddenReasons, clock: replica.state.clock, digest: replica.digest)
    }

    @Test("3 to 5 nodes, messages delayed, duplicated, reordered and dropped, links cut, nodes crashed: all converge (200 seeds)")
    func converges() async throws {
        // Minutes of CPU: on a thread of its own, so the in-process nodes of other tests answer.
        let (failures, revealed) = try await onThread { () -> ([String], Int) in
            var failures: [String] = [], revealed = 0
            for seed in UInt64(1)...200 {
                var hall = SimulatedHall(seed: seed, nodes: 3 + Int(seed % 3), verifies: false)
                for _ in 0..<80 { hall.step(acting: true) }
                hall.finish()
                let reference = Self.agreed(hall.nodes[0].replica)
                for node in hall.nodes.dropFirst() where Self.agreed(node.replica) != reference {
                    failures.append("seed \(seed): a \(node.replica.role) differs")
                }
                if !hall.nodes.allSatisfy({ $0.replica.state.isClosed }) { failures.append("seed \(seed): not every node closed") }
                revealed += reference.transcript.prompts.map(\.reflections.count).reduce(0, +)
            }
            return (failures, revealed)
        }
        #expect(failures.isEmpty, "\(failures.count) failures, the first: \(failures.prefix(5))")
        #expect(revealed > 500, "the simulation must exercise reveals")
    }

    @Test("with signatures checked, forged events are refused on every node and the rest still converges (25 seeds)")
    func forgedEventsAreRefused() async throws {
        let (failures, forged) = try await onThread { () -> ([String], Int) in
            var failures: [String] = [], forged = 0
            for seed in UInt64(1000)...1024 {
                var hall = SimulatedHall(seed: seed, nodes: 4, verifies: true)
                for _ in 0..<80 { hall.step(acting: true) }
                hall.finish()
                forged += hall.forgedSent
                let reference = Self.agreed(hall.nodes[0].replica)
                if !hall.nodes.allSatisfy({ Self.agreed($0.replica) == reference }) { failures.append("seed \(seed): nodes differ") }
                let anyForgedKept = hall.nodes.contains { node in
                    var replica = node.replica
                    return replica.held.contains { id in
                        if case .facilitator(let signer, _, _)? = replica.state.event(id)?.authorship { return signer == hall.forger.publicKey }
                        return false
                    }
                }
                if anyForgedKept { failures.append("seed \(seed): a forged event is held") }
            }
            return (failures, forged)
        }
        #expect(failures.isEmpty, "\(failures.prefix(5))")
        #expect(forged > 10)
    }

    @Test("an archivist never holds a reflection before it is revealed")
    func archivistsHoldNoPendingReflection() async throws {
        let failures = try await onThread { () -> [String] in
            var failures: [String] = []
            for seed in UInt64(2000)...2030 {
                var hall = SimulatedHall(seed: seed, nodes: 5, verifies: false)
                for _ in 0..<60 {
                    hall.step(acting: true)
                    for node in hall.nodes where node.replica.role == .archivist {
                        let state = node.replica.state
                        let pending = state.allEvents.filter { if case .reflectionSubmitted = $0.body { return !state.revealedSet.contains($0.id) } else { return false } }
                        if !pending.isEmpty { failures.append("seed \(seed) tick \(hall.tick): an archivist holds \(pending.count) unrevealed reflection(s)") }
                    }
                }
            }
            return failures
        }
        #expect(failures.isEmpty, "\(failures.prefix(5))")
    }
}
