import Foundation
import HalqaTestSupport
import Testing

@testable import Meeting

@Suite("The fold from events to state")
struct FoldTests {
    // Signatures are checked once per event by the tests below; here the property is order
    // independence, so the folds skip re-verifying (BoringSSL is unoptimised in debug builds).
    @Test("every permutation and duplication of a random session's events gives the same state (300 seeds)")
    func convergesOverPermutationsAndDuplicates() async throws {
        // CPU-heavy: on a thread of its own, so the in-process nodes of other tests answer.
        let (failures, checkedReveals) = try await onThread { () -> ([String], Int) in
            var failures: [String] = []
            var checkedReveals = 0
            for seed in UInt64(1)...300 {
                var session = RandomSession(seed: seed)
                let events = session.run(steps: 60)
                let reference = Snapshot(try SessionState(events: events, verifySignatures: false))
                var rng = SplitMix64(seed: seed &* 7919)
                for round in 0..<4 {
                    var mixed = events + (0..<10).map { _ in events.randomElement(using: &rng)! }
                    mixed.shuffle(using: &rng)
                    let batch = Snapshot(try SessionState(events: mixed, verifySignatures: false))
                    if batch != reference { failures.append("seed \(seed): batch fold differs: \(batch) vs \(reference)") }
                    // Arriving one at a time, in any order, as replication delivers them.
                    if round == 0 {
                        var incremental = try SessionState(events: [events[0]], verifySignatures: false)
                        for event in mixed { incremental.insert(event, verifySignature: false) }
                        if Snapshot(incremental) != batch { failures.append("seed \(seed): incremental fold differs") }
                    }
                }
                checkedReveals += reference.transcript.prompts.map(\.reflections.count).reduce(0, +)
            }
            return (failures, checkedReveals)
        }
        #expect(failures.isEmpty, "\(failures.prefix(5))")
        // The generator must exercise reveals, or this test proves little.
        #expect(checkedReveals > 300)
    }

    @Test("events signed by a key without authority, or with the wrong room key, change nothing")
    func forgedEventsAreIgnored() throws {
        var forgedSeen = 0
        for seed in UInt64(1)...100 {
            var session = RandomSession(seed: seed)
            var events = session.run(steps: 60)
            events.shuffle(using: &session.rng)
            let state = try SessionState(events: events)
            let honest = try SessionState(events: events.filter { !session.forged.contains($0.id) })
            #expect(Snapshot(state) == Snapshot(honest), "seed \(seed)")
            for id in session.forged { #expect(state.ignored[id] != nil, "seed \(seed): a forged event was applied") }
            forgedSeen += session.forged.count
        }
        #expect(forgedSeen > 50)
    }

    /// What a joining node and an import do with a large session: decode and verify on every
    /// core, frame by frame as it arrives, then fold once.
    @Test("a session verified on every core, frame by frame in any order, is the state the one-by-one fold gives (forgeries left out)")
    func concurrentFoldIsTheFold() async throws {
        for seed in UInt64(1)...6 {
            var session = RandomSession(seed: seed)
            // Enough events for several chunks of the concurrent map.
            var events = session.run(steps: seed == 1 ? 700 : 120)
            events.shuffle(using: &session.rng)
            let reference = try SessionState(events: events)
            let verified = try await SessionState.verifying(events)
            #expect(Snapshot(verified) == Snapshot(reference), "seed \(seed)")
            #expect(verified.ignored == reference.ignored, "seed \(seed)")
            let honest = Snapshot(try SessionState(events: events.filter { !session.forged.contains($0.id) }))
            // As a host sends it (the session-created event first) and in any order (it last).
            let created = events.first { $0.id == reference.id }!
            for createdFirst in [true, false] {
                let rest = events.filter { $0.id != reference.id }.map(\.bytes)
                var frames: [[[UInt8]]] = stride(from: 0, to: rest.count, by: 37).map { Array(rest[$0..<min($0 + 37, rest.count)]) }
                if createdFirst { frames.insert([created.bytes], at: 0) } else { frames.append([created.bytes]) }
                var arriving = ArrivingSession(session: reference.id)
                for frame in frames { await arriving.take(frame) }
                let state = try await arriving.verified()
                #expect(Snapshot(state) == honest, "seed \(seed), created first: \(createdFirst)")
                #expect(!state.ignored.values.contains { $0.isForgery }, "seed \(seed): a forged event was kept")
            }
        }
    }

    @Test("a frame from a host that names a session-created event it does not send, or sends two sessions, makes no session")
    func arrivingWithoutItsSession() async throws {
        var one = RandomSession(seed: 11)
        var two = RandomSession(seed: 12)
        let a = one.run(steps: 30)
        let b = two.run(steps: 30)
        var missing = ArrivingSession(session: one.state.id)
        await missing.take(a.dropFirst().map(\.bytes))
        await expectRefusal(.noSuchSession) { _ = try await missing.verified() }
        var mixed = ArrivingSession(session: one.state.id)
        await mixed.take((a + b).map(\.bytes))
        await expectRefusal(.invalidTranscript) { _ = try await mixed.verified() }
    }

    @Test("a reflection refused for its text stays refused when a forged event beside it is left out")
    func refusedTextStaysRefused() async throws {
        var session = RandomSession(seed: 21)
        let events = session.run(steps: 20)
        let id = session.state.id
        let long = Event.participant(
            .reflectionSubmitted(prompt: 0, text: String(repeating: "x", count: Limits.reflectionCharacters + 1), nonce: randomBytes(16)),
            session: id, roomKey: session.room)
        let forged = Event.participant(
            .reflectionSubmitted(prompt: 0, text: "forged", nonce: randomBytes(16)), session: id, roomKey: session.wrongRoom)
        let state = try await LiveSession.verify((events + [long, forged]).map(\.bytes))
        #expect(state.event(forged.id) == nil, "a forged reflection was kept")
        #expect(state.ignored[long.id] == .invalidReflection, "a refused reflection was taken once the forgery was left out")
        #expect(state.reflections[long.id] == nil)
        // With every signature good, the session is folded while they are checked: the same.
        let signed = try await LiveSession.verify((events + [long]).map(\.bytes))
        #expect(signed.ignored[long.id] == .invalidReflection, "a reflection too long was taken while signatures were checked")
        #expect(signed.reflections[long.id] == nil)
        #expect(Set(signed.allEvents.map(\.id)) == Set(state.allEvents.map(\.id)))
    }

    @Test("a tampered event no longer verifies and is ignored")
    func tamperedEventIsIgnored() throws {
        var session = RandomSession(seed: 42)
        _ = session.run(steps: 5)
        let id = session.state.id
        try session.state.check(.promptOpened(prompt: 0), by: session.creator.publicKey)
        let honest = Event.facilitator(.promptOpened(prompt: 0), session: id, by: session.creator, at: 1, clock: 99)
        // Change one digit of the prompt number inside the signed bytes.
        let text = String(decoding: honest.bytes, as: UTF8.self).replacingOccurrences(of: "\"prompt\":0", with: "\"prompt\":1")
        let tampered = try Event(bytes: Array(text.utf8))
        #expect(tampered.id != honest.id)
        #expect(!tampered.hasValidSignature(roomKey: nil))
        var state = session.state
        state.insert(tampered)
        #expect(state.ignored[tampered.id] == .badSignature)
        #expect(state.prompts[1].status == .waiting)
    }

    @Test("events this node writes read back identically from their bytes")
    func writtenEventsRoundTrip() throws {
        var session = RandomSession(seed: 7)
        for event in session.run(steps: 80) {
            let read = try Event(bytes: event.bytes)
            // Field by field: events are equal when their bytes are, whatever was read from them.
            #expect(read.id == EventID.of(event.bytes) && read.id == event.id && read.session == event.session)
            #expect(read.body == event.body && read.authorship == event.authorship)
            #expect(read.signature == event.signature && read.signedBytes == event.signedBytes)
        }
    }

    @Test("non-canonical bytes, unknown fields and unknown kinds are refused with a reason")
    func strictDecoding() async throws {
        let session = RandomSession(seed: 3)
        let good = String(decoding: session.events[1].bytes, as: UTF8.self)
        for bad in [
            " " + good, good.replacingOccurrences(of: "{\"at\"", with: "{\"x\":1,\"at\""),
            good.replacingOccurrences(of: "facilitator-granted", with: "made-up"), "[]", "{", "",
        ] {
            await expectRefusal(.invalidEvent) { _ = try Event(bytes: Array(bad.utf8)) }
        }
        // Only the one canonical spelling of a value is JSON here: any other would give the
        // same event another id.
        for bad in [
            #"{"a":-0}"#, #"{"a":01}"#, #"{"a":1.0}"#, #"{"a":1e3}"#, #"{"a":9223372036854775808}"#, #"{"b":1,"a":2}"#,
            #"{"a":1,"a":2}"#, #"{"a":"\/"}"#, #"{"a":"\u0041"}"#, #"{"a":"\u001F"}"#, #"{"a":"\u000a"}"#, #"{"a" :1}"#,
            "{\"a\":\"\u{1}\"}", "{\"e\u{301}\":1,\"\u{e9}\":2}", #"{"a":[1,]}"#,
            String(repeating: "[", count: 65) + String(repeating: "]", count: 65),
        ] {
            await expectRefusal(.invalidEvent) { _ = try JSONValue(canonical: Array(bad.utf8)) }
        }
        #expect(throws: Never.self) {
            try JSONValue(canonical: Array(#"{"a":"\u0001\n\t\"\\","b":-9223372036854775808,"c":[true,null,{}]}"#.utf8))
        }
        #expect(try JSONValue(canonical: Array(#"{"a":"\u0001x"}"#.utf8)) == .object(["a": .string("\u{1}x")]))
        // A signature is not covered by itself: another spelling of its base64 (bits the last
        // character does not use, more padding) would give the same event a second id.
        var writing = RandomSession(seed: 4)
        let reflection = try #require(writing.run(steps: 40).first { $0.body.isParticipant })
        let text = String(decoding: reflection.bytes, as: UTF8.self)
        let sig = try #require(text.firstMatch(of: #/"sig":"([^"]+)"/#)?.output.1).description
        let last = sig.dropLast(2).last!
        let table = Array("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/")
        let stray = String(sig.dropLast(3)) + String(table[table.firstIndex(of: last)! ^ 1]) + "=="
        #expect(Data(base64Encoded: stray) == Data(base64Encoded: sig), "Foundation reads both spellings alike")
        for respelled in [stray, sig + "=="] {
            await expectRefusal(.invalidEvent) { _ = try Event(bytes: Array(text.replacingOccurrences(of: sig, with: respelled).utf8)) }
        }
    }

    @Test("base64 of every length has one spelling: stray bits, missing or extra padding are not it")
    func base64Spellings() throws {
        #expect(Base64Spelling.decode("") == [])
        for other in ["=", "==", "===", "====", "A===", "AA=A", "AAA=AAAA", "A=AA", "AA==AA==", "AA\u{0}A", "AAé", "ÀAAA"] {
            #expect(Base64Spelling.decode(other) == nil, "\(other)")
        }
        let table = Array("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/".utf8)
        var generator = SystemRandomNumberGenerator()
        for count in 1...70 {
            let bytes = (0..<count).map { _ in UInt8.random(in: 0...255, using: &generator) }
            let text = Data(bytes).base64EncodedString()
            #expect(Base64Spelling.isCanonical(text.utf8, of: count), "\(count) bytes as Foundation writes them")
            #expect(Base64Spelling.decode(text) == bytes, "\(count) bytes read back")
            var others = [text.trimmingCharacters(in: ["="]), text + "="]
            // Each bit the last letter before the padding does not use, set.
            let unused = count % 3 == 1 ? 4 : count % 3 == 2 ? 2 : 0
            let position = text.utf8.count - 1 - (3 - count % 3) % 3
            for bit in 0..<unused {
                var letters = Array(text.utf8)
                letters[position] = table[Int(Base64Spelling.sextet(letters[position])! ^ (1 << bit))]
                others.append(String(decoding: letters, as: UTF8.self))
            }
            // Padding in the wrong place, or a letter outside the alphabet.
            if count % 3 != 0 {
                var misplaced = Array(text.utf8)
                misplaced.swapAt(misplaced.count - 1, misplaced.count - 1 - (3 - count % 3))
                others.append(String(decoding: misplaced, as: UTF8.self))
            }
            others.append(String(text.dropLast(4)) + "xx=y")
            others.append(String(text.dropFirst()) + "-")
            for other in others where other != text {
                #expect(!Base64Spelling.isCanonical(other.utf8, of: count), "\(other) for \(count) bytes, asked alone")
                let read = Data(base64Encoded: other)
                #expect(read == nil || !Base64Spelling.isCanonical(other.utf8, of: read!.count), "\(other) for \(count) bytes")
                #expect(Base64Spelling.decode(other) == nil, "\(other) for \(count) bytes, read")
            }
        }
    }

    @Test("a string that is not UTF-8 is not canonical JSON, while U+FFFD written out is")
    func invalidUTF8InStrings() async throws {
        // The last two are cut-off sequences whose repair (one U+FFFD) is as long as they were.
        let bad: [[UInt8]] = [
            [0xC3, 0x28], [0x80], [0xC0, 0x80], [0xED, 0xA0, 0x80], [0xF4, 0x90, 0x80, 0x80], [0xE2, 0x82], [0xF0, 0x9F, 0x98],
            [0x61, 0xF0, 0x9F, 0x98, 0x62],
        ]
        for text in bad {
            // As a value and as a key.
            for bytes in [Array(#"{"a":""#.utf8) + text + Array(#""}"#.utf8), Array(#"{""#.utf8) + text + Array(#"":1}"#.utf8)] {
                await expectRefusal(.invalidEvent) { _ = try JSONValue(canonical: bytes) }
                #expect(JSONValue(json: bytes) == nil)
            }
        }
        #expect(try JSONValue(canonical: Array(#"{"a":"\#u{FFFD}ہ"}"#.utf8)) == .object(["a": .string("\u{FFFD}ہ")]))
    }
}
