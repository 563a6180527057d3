import Foundation
import HalqaTestSupport
import Testing

@testable import Meeting

/// A deterministic, seeded simulation of replicas on a faulty network: messages delayed,
/// duplicated, reordered and dropped; links cut; nodes crashed (a crashed node keeps what it
/// stored, and loses what was in flight to it and the phones' requests waiting on it).
///
/// Each node is the pure state machines a real node runs: its ``Replica`` and, for
/// reflections its phones send, its ``SecondCopy``. A reflection is pushed to the other
/// co-facilitators at once; their `stored` replies end the phone's wait, or its time runs out.
struct SimulatedHall {
    struct Node {
        var replica: Replica
        var up = true
        var facilitatorKey: SigningKey?
        var holdsRoomKey: Bool
        var copies = SecondCopy()
        /// Phones' requests waiting for a second copy, and the tick each one's time runs out.
        var waits: [EventID: Int] = [:]
    }
    struct InFlight {
        var at: Int
        var from: Int
        var to: Int
        var message: PeerMessage
    }
    /// How the phones' waits for a second copy ended.
    struct Waits { var started = 0, confirmed = 0, ownCopy = 0, lostInCrash = 0, wrongConfirmations: [String] = [] }
    var waits = Waits()
    static let secondCopyTicks = 8

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
    /// Summaries that named a waiting reflection to an archivist.
    var pendingIDsToArchivists = 0

    init(seed: UInt64, nodes count: Int, verifies: Bool) {
        rng = SplitMix64(seed: seed)
        let creator = SigningKey()
        let second = SigningKey()
        let created = SessionCreated(
            title: "Simulated \(seed)", deck: trilingualDeck(prompts: 4), minimumToReveal: 2,
            roomKey: room.publicKey, nonce: randomBytes(16))
        let first = Event.facilitator(.sessionCreated(created), session: nil, by: creator, at: 1, clock: 0)
        let grant = Event.facilitator(.facilitatorGranted(key: second.publicKey), session: first.id, by: creator, at: 2, clock: 1)
        var state = try! SessionState(events: [first, grant])
        state.insert(grant)
        for i in 0..<count {
            // Nodes 0 and 1 facilitate; the others are co-facilitators or archivists at random.
            let role: Replica.Role = i < 2 || Bool.random(using: &rng) ? .coFacilitator : .archivist
            nodes.append(
                Node(
                    replica: Replica(state: state, role: role, verifies: verifies),
                    facilitatorKey: i == 0 ? creator : i == 1 ? second : nil, holdsRoomKey: role == .coFacilitator))
        }
    }

    mutating func send(_ message: PeerMessage, from: Int, to: Int) {
        // An archivist is never told the ids of reflections still waiting (their arrival).
        if nodes[to].replica.role == .archivist, case .have(_, let ids) = message {
            let state = nodes[from].replica.state
            if ids.contains(where: { id in state.event(id).map { Replica.isUnrevealedReflection($0, in: state) } ?? false }) {
                pendingIDsToArchivists += 1
            }
        }
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
                let a = Int.random(in: 0..<nodes.count, using: &rng)
                let b = Int.random(in: 0..<nodes.count, using: &rng)
                if a != b { cut[[a, b]] = tick + Int.random(in: 5...30, using: &rng) }
            }
            if Int.random(in: 0..<40, using: &rng) == 0 {
                let n = Int.random(in: 0..<nodes.count, using: &rng)
                nodes[n].up = false
                downUntil[n] = tick + Int.random(in: 3...20, using: &rng)
                flight.removeAll { $0.to == n }
                // The phones' requests die with it; a restarted node starts with no waits.
                waits.lostInCrash += nodes[n].waits.count
                nodes[n].waits = [:]
                nodes[n].copies = SecondCopy()
            }
        }
        for (link, until) in cut where until <= tick { cut[link] = nil }
        for (n, until) in downUntil where until <= tick {
            nodes[n].up = true
            downUntil[n] = nil
        }
        for n in nodes.indices {
            for (id, until) in nodes[n].waits where until <= tick {
                nodes[n].waits[id] = nil
                if nodes[n].copies.timedOut(id) {
                    waits.ownCopy += 1
                } else {
                    waits.wrongConfirmations.append("tick \(tick): a wait that timed out had already ended")
                }
            }
        }
        if acting { act() }
        for from in nodes.indices where nodes[from].up {
            for to in nodes.indices where to != from && (!faults || Bool.random(using: &rng)) {
                send(nodes[from].replica.summary(for: nodes[to].replica.role), from: from, to: to)
            }
        }
        var due = flight.filter { $0.at <= tick }
        flight.removeAll { $0.at <= tick }
        due.shuffle(using: &rng)  // reordered
        for m in due where nodes[m.to].up && nodes[m.from].up && linked(m.from, m.to) {
            let replies = nodes[m.to].replica.receive(m.message, from: nodes[m.from].replica.role)
            for reply in replies { send(reply, from: m.to, to: m.from) }
            if case .stored(_, let ids) = m.message { acknowledged(ids, at: m.to, by: m.from) }
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
            let event = Event.participant(
                .reflectionSubmitted(prompt: open, text: "words \(rng.next() % 10_000)", nonce: randomBytes(16)),
                session: state.id, roomKey: room)
            nodes[n].replica.record(event)
            reflectionArrived(event, at: n)
            return
        }
        if nodes[n].holdsRoomKey, roll < 55,
            let target = state.prompts.indices.flatMap({ state.revealed(prompt: $0) }).filter({ $0.hiddenReason == nil }).randomElement(
                using: &rng)
        {
            nodes[n].replica.record(
                Event.participant(.resonated(reflection: target.id, nonce: randomBytes(16)), session: state.id, roomKey: room))
            return
        }
        if roll >= 95, forgedSent < 3 {
            // A forged facilitator event, sent as if it came from this node.
            forgedSent += 1
            let forged = Event.facilitator(.sessionClosed, session: state.id, by: forger, at: 9, clock: state.clock + 1)
            for to in nodes.indices where to != n { send(.events(session: state.id, events: [forged.bytes]), from: n, to: to) }
            return
        }
        guard let key = nodes[n].facilitatorKey else { return }
        let body: EventBody
        switch roll {
        case 55..<68: body = .promptOpened(prompt: Int.random(in: 0..<state.prompts.count, using: &rng))
        case 68..<80:
            guard let open else { return }
            body = .reflectionsRevealed(prompt: open, order: state.pendingIDs(prompt: open).sorted().shuffled(using: &rng))
        case 80..<86:
            guard let open else { return }
            body = .promptClosed(prompt: open)
        case 86..<90:
            guard let target = state.prompts.indices.flatMap({ state.revealed(prompt: $0) }).randomElement(using: &rng) else { return }
            body = .reflectionHidden(reflection: target.id, reason: "names someone")
        default: body = .noteWritten(prompt: open, text: "note \(tick)")
        }
        guard (try? state.check(body, by: key.publicKey)) != nil else { return }
        nodes[n].replica.record(Event.facilitator(body, session: state.id, by: key, at: Int64(tick), clock: state.clock + 1))
    }

    /// A phone's reflection reached node `n`: pushed to the other co-facilitators, and the
    /// phone waits for a second copy if any is up and linked (as ``Replicator`` does).
    mutating func reflectionArrived(_ event: Event, at n: Int) {
        let peers = nodes.indices.filter { $0 != n && nodes[$0].replica.role == .coFacilitator && nodes[$0].up && linked(n, $0) }
        guard !peers.isEmpty else { return }
        nodes[n].copies.sent(event.id)
        for peer in peers { send(.events(session: event.session, events: [event.bytes]), from: n, to: peer) }
        waits.started += 1
        switch nodes[n].copies.wait(for: event.id) {
        case .confirmed: waits.wrongConfirmations.append("tick \(tick): confirmed before any peer replied")
        case .ownCopyStands: waits.wrongConfirmations.append("tick \(tick): a wait just sent ended at once")
        case .wait: nodes[n].waits[event.id] = tick + SimulatedHall.secondCopyTicks
        }
    }

    /// Node `n` got `stored` from node `peer`: the waits it ends must be for events that peer
    /// holds (it may have destroyed one since: a prompt closed below the minimum), and the
    /// peer must be a co-facilitator.
    mutating func acknowledged(_ ids: [EventID], at n: Int, by peer: Int) {
        for id in nodes[n].copies.stored(ids, from: nodes[peer].replica.role) {
            guard nodes[n].waits.removeValue(forKey: id) != nil else {
                waits.wrongConfirmations.append("tick \(tick): confirmed a wait that was not running")
                continue
            }
            waits.confirmed += 1
            if nodes[peer].replica.role != .coFacilitator || nodes[peer].replica.state.event(id) == nil {
                waits.wrongConfirmations.append("tick \(tick): confirmed by a node that does not hold it")
            }
        }
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
    struct Agreed: Equatable {
        var transcript: Transcript
        var hidden: [EventID: String]
        var clock: Int
        var digest: EventSetDigest
    }

    static func agreed(_ replica: Replica) -> Agreed {
        var replica = replica
        return Agreed(
            transcript: Transcript(replica.state), hidden: replica.state.hiddenReasons, clock: replica.state.clock, digest: replica.digest)
    }

    @Test("3 to 5 nodes, messages delayed, duplicated, reordered and dropped, links cut, nodes crashed: all converge (200 seeds)")
    func converges() async throws {
        // Minutes of CPU: on a thread of its own, so the in-process nodes of other tests answer.
        let (failures, revealed) = try await onThread { () -> ([String], Int) in
            var failures: [String] = []
            var revealed = 0
            for seed in UInt64(1)...200 {
                var hall = SimulatedHall(seed: seed, nodes: 3 + Int(seed % 3), verifies: false)
                for _ in 0..<80 { hall.step(acting: true) }
                hall.finish()
                failures += hall.waits.wrongConfirmations.map { "seed \(seed): \($0)" }
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

    @Test(
        "every phone's wait for a second copy ends once: confirmed only by a co-facilitator that keeps the reflection, else its own copy stands (100 seeds)"
    )
    func secondCopy() async throws {
        let (failures, totals) = try await onThread { () -> ([String], SimulatedHall.Waits) in
            var failures: [String] = []
            var totals = SimulatedHall.Waits()
            for seed in UInt64(201)...300 {
                var hall = SimulatedHall(seed: seed, nodes: 3 + Int(seed % 3), verifies: false)
                for _ in 0..<80 { hall.step(acting: true) }
                hall.finish()
                let w = hall.waits
                failures += w.wrongConfirmations.map { "seed \(seed): \($0)" }
                if w.started != w.confirmed + w.ownCopy + w.lostInCrash {
                    failures.append("seed \(seed): \(w.started) waits started, \(w.confirmed + w.ownCopy + w.lostInCrash) ended")
                }
                if let n = hall.nodes.firstIndex(where: { $0.copies.inFlight != 0 || !$0.waits.isEmpty }) {
                    failures.append("seed \(seed): node \(n) still holds waits after every time ran out")
                }
                totals.started += w.started
                totals.confirmed += w.confirmed
                totals.ownCopy += w.ownCopy
            }
            return (failures, totals)
        }
        #expect(failures.isEmpty, "\(failures.count) failures, the first: \(failures.prefix(5))")
        // Both endings happen: the simulation exercises the machine, not just one path.
        #expect(
            totals.confirmed > 50 && totals.ownCopy > 5, "confirmed \(totals.confirmed), own copy \(totals.ownCopy) of \(totals.started)")
    }

    @Test("with signatures checked, forged events are refused on every node and the rest still converges (25 seeds)")
    func forgedEventsAreRefused() async throws {
        let (failures, forged) = try await onThread { () -> ([String], Int) in
            var failures: [String] = []
            var forged = 0
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
                        if case .facilitator(let signer, _, _)? = replica.state.event(id)?.authorship {
                            return signer == hall.forger.publicKey
                        }
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

    @Test("an archivist never holds a reflection before it is revealed, and is never told the id of one that waits")
    func archivistsHoldNoPendingReflection() async throws {
        let failures = try await onThread { () -> [String] in
            var failures: [String] = []
            for seed in UInt64(2000)...2030 {
                var hall = SimulatedHall(seed: seed, nodes: 5, verifies: false)
                for _ in 0..<60 {
                    hall.step(acting: true)
                    if hall.pendingIDsToArchivists > 0 {
                        failures.append("seed \(seed) tick \(hall.tick): an archivist was told the id of a waiting reflection")
                        hall.pendingIDsToArchivists = 0
                    }
                    for node in hall.nodes where node.replica.role == .archivist {
                        let state = node.replica.state
                        let pending = state.allEvents.filter {
                            if case .reflectionSubmitted = $0.body { return !state.revealedSet.contains($0.id) } else { return false }
                        }
                        if !pending.isEmpty {
                            failures.append("seed \(seed) tick \(hall.tick): an archivist holds \(pending.count) unrevealed reflection(s)")
                        }
                    }
                }
            }
            return failures
        }
        #expect(failures.isEmpty, "\(failures.prefix(5))")
    }
}

/// The host's pairing desk under a seeded crowd of laptops: some honest, some flooding from
/// one address; the facilitator admits or turns away at random; admitted laptops' people say
/// yes or no; connections drop. The pairing itself runs as the two sides do (commit, nonce,
/// reveal), with a man in the middle who sometimes swaps a nonce.
@Suite("Pairing: a seeded simulation of the host's desk")
struct PairingSimulationTests {
    struct Laptop {
        var key = SigningKey().publicKey
        var address: String
        var id = UUID()
        var seated = false
        var admitted = false
        var hostNonce: [UInt8] = []
        var codeHere = ""
        var codeThere = ""
    }

    @Test(
        "seats stay within 5 and 2 per address; nobody is admitted twice; the codes agree unless a nonce was swapped, and then the commitment fails; the desk empties (100 seeds)"
    )
    func desk() async throws {
        let failures = try await onThread { () -> [String] in
            var failures: [String] = []
            var admittedTotal = 0
            var swapsCaught = 0
            for seed in UInt64(1)...100 {
                var rng = SplitMix64(seed: seed)
                var desk = PairingDesk<Int>()
                let host = SigningKey().publicKey
                var laptops: [Laptop] = []
                for tick in 0..<300 {
                    switch Int.random(in: 0..<10, using: &rng) {
                    case 0..<3:
                        // A laptop asks; a third of them from the flooding address.
                        var laptop = Laptop(address: Int.random(in: 0..<3, using: &rng) == 0 ? "198.18.0.66" : "198.18.0.\(tick % 200)")
                        if desk.seat(laptop.id, from: laptop.address) == nil {
                            laptop.seated = true
                            // Commit, nonce, reveal; a man in the middle swaps the host's nonce now and then.
                            let nonce = Pairing.nonce()
                            let theirs = Pairing.nonce()
                            let commitment = Pairing.commitment(to: nonce)
                            let revealed = Int.random(in: 0..<20, using: &rng) == 0 ? Pairing.nonce() : nonce
                            guard Pairing.opens(commitment, with: revealed) else {
                                swapsCaught += 1
                                _ = desk.ended(laptop.id, key: laptop.key)
                                continue
                            }
                            laptop.codeThere = Pairing.code(host: host, node: laptop.key, hostNonce: revealed, nodeNonce: theirs)
                            laptop.codeHere = Pairing.code(host: host, node: laptop.key, hostNonce: nonce, nodeNonce: theirs)
                            desk.waits(
                                laptop.id,
                                .init(
                                    key: laptop.key, name: "laptop", code: laptop.codeHere, address: laptop.address, peerPort: nil,
                                    line: tick))
                            laptops.append(laptop)
                        }
                    case 3..<5:
                        // The facilitator admits one shown on the console, or turns it away; a
                        // second click on the same entry finds it gone.
                        guard let (id, entry) = desk.waiting.randomElement(using: &rng) else { continue }
                        guard let i = laptops.firstIndex(where: { $0.id == id }), let taken = desk.take(id) else { continue }
                        if desk.take(id) != nil { failures.append("seed \(seed): taken twice") }
                        if taken.code != laptops[i].codeThere {
                            failures.append("seed \(seed): the console shows another code than the laptop")
                        }
                        if Bool.random(using: &rng) {
                            if laptops[i].admitted { failures.append("seed \(seed): admitted twice") }
                            laptops[i].admitted = true
                            admittedTotal += 1
                            desk.admitted(entry.key, code: taken.code, digest: "DIGE-STXX")
                        } else {
                            _ = desk.ended(id, key: entry.key)
                            laptops.remove(at: i)
                        }
                    case 5..<7:
                        // An admitted laptop's person answers.
                        guard let i = laptops.indices.filter({ laptops[$0].admitted }).randomElement(using: &rng) else { continue }
                        if Bool.random(using: &rng) {
                            desk.linked(laptops[i].key)
                        } else if !desk.declined(laptops[i].key) {
                            failures.append("seed \(seed): an admitted laptop's no was not heard")
                        }
                        _ = desk.ended(laptops[i].id, key: laptops[i].key)
                        laptops.remove(at: i)
                    default:
                        // A connection drops.
                        guard let i = laptops.indices.randomElement(using: &rng) else { continue }
                        _ = desk.ended(laptops[i].id, key: laptops[i].key)
                        laptops.remove(at: i)
                    }
                    if desk.seated > PairingDesk<Int>.maxSeats { failures.append("seed \(seed): \(desk.seated) seats") }
                    let perAddress = Dictionary(grouping: laptops.filter(\.seated), by: \.address).values.map(\.count).max() ?? 0
                    if perAddress > PairingDesk<Int>.maxSeatsPerAddress {
                        failures.append("seed \(seed): \(perAddress) seats for one address")
                    }
                    if desk.waiting.count > desk.seated { failures.append("seed \(seed): more waiting than seated") }
                    if desk.confirming.keys.contains(where: { key in !laptops.contains { $0.key == key && $0.admitted } }) {
                        failures.append("seed \(seed): a confirmation shown for a laptop not admitted or gone")
                    }
                }
                for laptop in laptops { _ = desk.ended(laptop.id, key: laptop.key) }
                if desk.seated != 0 || !desk.waiting.isEmpty || !desk.confirming.isEmpty {
                    failures.append("seed \(seed): the desk did not empty")
                }
            }
            if admittedTotal < 100 || swapsCaught < 10 {
                failures.append("too little exercised: \(admittedTotal) admitted, \(swapsCaught) swaps")
            }
            return failures
        }
        #expect(failures.isEmpty, "\(failures.count) failures, the first: \(failures.prefix(5))")
    }
}
