import Foundation
import HummingbirdTesting
import HummingbirdWSTesting
import Meeting
import NIOCore
import Synchronization
import Testing
import WSClient

@testable import Node

/// The hall's Wi-Fi is shared by every phone: a phone is sent each revealed text once, and
/// after that only what changed (docs/hosting.md, "Airtime"), while every page in step that
/// asks alike (deflated or not) still receives the same bytes at the same moment (anonymity
/// invariant 6).
@Suite("Airtime: what changed, once", .serialized)
struct AirtimeTests {
    /// A sealed page's live socket: every binary message it was sent, opened with the view key.
    final class SealedPage: Sendable {
        let sealed = Mutex<[[UInt8]]>([])
        let done = Mutex(false)
        var count: Int { sealed.withLock { $0.count } }
        func opened(_ key: [UInt8]) -> [[String: Any]] {
            sealed.withLock { $0 }.map { bytes in
                let plain = Sealing.open(bytes, withKey: key) ?? []
                return (try? JSONSerialization.jsonObject(with: Data(plain))) as? [String: Any] ?? [:]
            }
        }
        func plaintexts(_ key: [UInt8]) -> [String] {
            sealed.withLock { $0 }.map { String(decoding: Sealing.open($0, withKey: key) ?? [], as: UTF8.self) }
        }
    }

    /// Follows `/api/live` with a sealed hello (and `since`, if given) while `body` runs.
    static func following(
        _ client: some TestClientProtocol, since: String? = nil, pages: Int = 1,
        deflate: Bool = false, _ body: @escaping @Sendable ([SealedPage]) async throws -> Void
    ) async throws {
        let watchers = (0..<pages).map { _ in SealedPage() }
        let asks = (since.map { #","since":"\#($0)""# } ?? "") + (deflate ? #","deflate":true"# : "")
        let hello = #"{"type":"hello","sealed":true\#(asks)}"#
        try await withThrowingTaskGroup(of: Void.self) { group in
            for page in watchers {
                group.addTask {
                    _ = try await client.ws("/api/live") { inbound, outbound, _ in
                        try await outbound.write(.text(hello))
                        for try await message in inbound.messages(maxSize: 1 << 20) {
                            if case .binary(let buffer) = message { page.sealed.withLock { $0.append(Array(buffer.readableBytesView)) } }
                            if page.done.withLock({ $0 }) { return }
                        }
                    }
                }
            }
            group.addTask {
                if since == nil { while watchers.contains(where: { $0.count == 0 }) { try await Task.sleep(for: .milliseconds(10)) } }
                try await body(watchers)
                for page in watchers { page.done.withLock { $0 = true } }
            }
            try await group.next()
            group.cancelAll()
        }
    }

    /// Waits until every page was sent `n` messages.
    static func until(_ pages: [SealedPage], have n: Int) async throws {
        let deadline = Date().addingTimeInterval(30)
        while pages.contains(where: { $0.count < n }) && Date() < deadline { try await Task.sleep(for: .milliseconds(20)) }
        for page in pages { #expect(page.count == n, "a page was sent \(page.count) messages, not \(n)") }
    }

    static func view(_ json: [String: Any]) throws -> ParticipantView {
        try JSONDecoder().decode(ParticipantView.self, from: JSONSerialization.data(withJSONObject: json))
    }

    @Test(
        "Two pages in step are sent the same bytes; after the first view only what changed; each revealed text once; following the changes gives the room's view"
    )
    func changesOnly() async throws {
        let fixture = try await HostedFixture()
        let room = fixture.room
        let session = room.session
        let texts = (1...4).map { "reflection number \($0), with words of its own" }
        try await fixture.live { client in
            let api = API(client: client)
            let tappers = [
                try await api.join(fixture.joinCode), try await api.join(fixture.joinCode), try await api.join(fixture.joinCode),
            ]
            try await Self.following(client, pages: 2) { pages in
                try await session.open(prompt: 0)
                await room.changed()
                try await Self.until(pages, have: 2)
                for text in texts { _ = try await session.submitReflection(prompt: 0, text: text) }
                let shown = try await session.reveal(prompt: 0)
                await room.changed()
                try await Self.until(pages, have: 3)
                for tapper in tappers {
                    let (status, _, _) = try await api.call(
                        .post, "/api/resonance", token: tapper, json: #"{"reflection":"\#(shown[2].id.hex)"}"#)
                    #expect(status == .noContent)
                }
                await room.publishResonance()
                try await Self.until(pages, have: 4)
                try await session.hide(shown[0].id, reason: "a name")
                await room.changed()
                try await Self.until(pages, have: 5)
                try await session.open(prompt: 1)
                await room.changed()
                try await Self.until(pages, have: 6)

                let key = room.viewKey
                #expect(pages[0].sealed.withLock { $0 } == pages[1].sealed.withLock { $0 }, "two pages in step were sent different bytes")
                let messages = pages[0].opened(key)
                #expect(messages.first?["from"] == nil, "the first message is the whole view")
                #expect(messages.dropFirst().allSatisfy { $0["from"] != nil }, "a later message was the whole view again")
                // Following the changes, the page holds what the room shows at each step.
                var held = try Self.view(messages[0])
                for message in messages.dropFirst() {
                    let delta = try JSONDecoder().decode(RoomDelta.self, from: JSONSerialization.data(withJSONObject: message))
                    held = try #require(delta.applied(to: held), "a change did not start from the version held")
                }
                #expect(held == (await room.participantView()))
                // Each revealed text crossed once, in the message that revealed it.
                let plain = pages[0].plaintexts(key)
                for text in texts {
                    #expect(
                        plain.filter { $0.contains(text) }.count == 1, "\(text) was sent \(plain.filter { $0.contains(text) }.count) times")
                }
                #expect((messages[3]["counts"] as? [Any])?.compactMap { ($0 as? NSNumber)?.intValue } == [0, 0, 3, 0])
                #expect(messages[4]["drop"] as? [String] == [shown[0].id.hex])
                #expect(messages[5]["revealed"] as? [Any] != nil && (messages[5]["revealed"] as? [Any])?.isEmpty == true)
            }
        }
    }

    @Test(
        "A page that says which version it holds is sent nothing if it is the current one, what changed if older, the whole view if unknown"
    )
    func since() async throws {
        let fixture = try await HostedFixture()
        let room = fixture.room
        let session = room.session
        try await session.open(prompt: 0)
        await room.changed()
        let first = await room.participantView()
        for text in ["one", "two", "three"] { _ = try await session.submitReflection(prompt: 0, text: text) }
        _ = try await session.reveal(prompt: 0)
        await room.changed()
        let now = await room.participantView()
        #expect(now.version == first.version + 1 && now.epoch == first.epoch && !now.epoch.isEmpty)
        try await fixture.live { client in
            let api = API(client: client)
            func room(since: String?) async throws -> [String: Any] {
                let (status, body, _) = try await api.call(.get, "/api/room" + (since.map { "?since=" + $0 } ?? ""))
                #expect(status == .ok)
                return body
            }
            func opened(_ body: [String: Any]) throws -> [String: Any] {
                let bytes = try #require(Data(base64Encoded: body["sealed"] as? String ?? ""))
                let plain = try #require(Sealing.open(Array(bytes), withKey: fixture.room.viewKey))
                return try #require(try JSONSerialization.jsonObject(with: Data(plain)) as? [String: Any])
            }
            #expect(try await room(since: "\(now.epoch).\(now.version)")["unchanged"] as? Bool == true)
            let delta = try opened(try await room(since: "\(first.epoch).\(first.version)"))
            #expect(delta["from"] as? Int == first.version && (delta["add"] as? [Any])?.count == 3)
            for unknown in ["another.\(first.version)", "\(first.epoch).999", "garbage", nil] {
                let whole = try opened(try await room(since: unknown))
                #expect(whole["from"] == nil && (whole["revealed"] as? [Any])?.count == 3, "since \(unknown ?? "nothing")")
            }
            // On the live socket: the current version is sent nothing (a beat comes meanwhile).
            try await Self.following(client, since: "\(now.epoch).\(now.version)") { pages in
                try await Task.sleep(for: .milliseconds(2500))
                #expect(pages[0].count == 0, "a page that holds the current view was sent it again")
            }
            try await Self.following(client, since: "\(first.epoch).\(first.version)") { pages in
                try await Self.until(pages, have: 1)
                #expect(pages[0].opened(fixture.room.viewKey).first?["from"] as? Int == first.version)
            }
        }
    }

    @Test("On the sealed path too, a phone that writes or taps sends other pages nothing, and a poll's answer does not change by one byte")
    func sealedPathIsSilent() async throws {
        let (fixture, shown) = try await RoomSilenceTests.threeShown()
        let room = fixture.room
        let now = await room.participantView()
        let held = "\(now.epoch).\(now.version)"
        try await fixture.live { client in
            let api = API(client: client)
            let phones = [try await api.join(fixture.joinCode), try await api.join(fixture.joinCode), try await api.join(fixture.joinCode)]
            @Sendable func poll() async throws -> [UInt8] {
                Array(try await api.call(.get, "/api/room?since=" + held).2.body.readableBytesView)
            }
            let before = try await poll()
            try await Self.following(client, pages: 1) { fresh in
                try await Self.following(client, since: held) { inStep in
                    for (i, phone) in phones.enumerated() {
                        let (wrote, _, _) = try await api.call(
                            .post, "/api/reflections", token: phone, json: #"{"prompt":0,"text":"late \#(i)"}"#)
                        let (tapped, _, _) = try await api.call(
                            .post, "/api/resonance", token: phone, json: #"{"reflection":"\#(shown[i].id.hex)"}"#)
                        #expect(wrote == .created && tapped == .noContent)
                    }
                    try await Task.sleep(for: .milliseconds(300))
                    #expect(fresh[0].count == 1 && inStep[0].count == 0, "a page was sent something when phones wrote or tapped")
                    #expect(try await poll() == before, "a poll's answer changed when phones wrote or tapped")
                    // The batch of taps at the cadence does reach both (so this test can fail).
                    await room.publishResonance()
                    try await Self.until(inStep, have: 1)
                    try await Self.until(fresh, have: 2)
                    #expect(try await poll() != before)
                }
            }
        }
    }

    @Test("A change says what it must and nothing else: a reorder or another prompt sends the list anew")
    func deltas() async throws {
        var old = try await HostedFixture().room.participantView()
        old.revealed = ["a", "b", "c"].map { .init(id: $0, text: "text " + $0, resonance: 0) }
        var new = old
        new.version = 2
        new.revealed.swapAt(0, 1)
        let reordered = try #require(RoomDelta(from: old, to: new))
        #expect(reordered.revealed?.map(\.id) == ["b", "a", "c"] && reordered.add == nil && reordered.counts == nil)
        #expect(reordered.applied(to: old) == new)
        new = old
        new.version = 2
        new.revealed[1].resonance = 5
        new.revealed.append(.init(id: "d", text: "four", resonance: 0))
        let counted = try #require(RoomDelta(from: old, to: new))
        #expect(counted.add?.map(\.id) == ["d"] && counted.counts == [0, 5, 0, 0] && counted.revealed == nil && counted.session == nil)
        #expect(counted.applied(to: old) == new)
        old.version = 7
        #expect(counted.applied(to: old) == nil, "a change applied to a version it does not start from")
    }

    @Test(
        "A page that takes the room's view deflated gets the same view in fewer bytes, the same bytes as every other such page; a page that does not ask gets JSON"
    )
    func deflated() async throws {
        let fixture = try await HostedFixture()
        let room = fixture.room
        let session = room.session
        // Thirty texts, none a copy of another, of words in Urdu, Pashto and English.
        let words = ["غصہ", "باپ", "بیٹا", "خاموشی", "عزت", "ډار", "پلار", "زوی", "غوسه", "father", "silence", "anger", "honour", "fear"]
        var generator = SystemRandomNumberGenerator()
        let texts = (0..<30).map { i in
            "\(i) " + (0..<40).map { _ in words.randomElement(using: &generator)! }.joined(separator: " ")
        }
        @Sendable func inflated(_ plain: [UInt8]) throws -> [UInt8] { try #require(ViewDeflation.inflate(plain)) }
        try await fixture.live { client in
            let api = API(client: client)
            try await Self.following(client, pages: 2, deflate: true) { deflating in
                try await Self.following(client, pages: 1) { plain in
                    try await session.open(prompt: 0)
                    await room.changed()
                    try await Self.until(deflating + plain, have: 2)
                    for text in texts { _ = try await session.submitReflection(prompt: 0, text: text) }
                    _ = try await session.reveal(prompt: 0)
                    await room.changed()
                    try await Self.until(deflating + plain, have: 3)

                    let key = room.viewKey
                    let sent = deflating[0].sealed.withLock { $0 }
                    #expect(sent == deflating[1].sealed.withLock { $0 }, "two pages in step were sent different bytes")
                    let json = plain[0].sealed.withLock { $0 }.map { Sealing.open($0, withKey: key) ?? [] }
                    #expect(json.allSatisfy { $0.first == UInt8(ascii: "{") }, "a page that did not ask was sent something other than JSON")
                    let reveal = try #require(Sealing.open(sent[2], withKey: key))
                    #expect(reveal.first == 0x78, "the reveal was not deflated")
                    // The same view, the same change, in fewer bytes on the air.
                    #expect(try inflated(reveal) == json[2], "the deflated reveal says something else")
                    #expect(sent[2].count * 2 < plain[0].sealed.withLock { $0 }[2].count, "the reveal's \(sent[2].count) bytes deflated")
                    // A poll that asks for it gets the same view deflated.
                    let (status, body, _) = try await api.call(.get, "/api/room?deflate=1")
                    #expect(status == .ok)
                    let polled = try #require(
                        Sealing.open(Array(Data(base64Encoded: body["sealed"] as? String ?? "") ?? Data()), withKey: key))
                    let whole = try #require(try JSONSerialization.jsonObject(with: Data(try inflated(polled))) as? [String: Any])
                    #expect((whole["revealed"] as? [[String: Any]])?.compactMap { $0["text"] as? String }.sorted() == texts.sorted())
                }
            }
        }
    }

    @Test(
        "A version costs at most two deflations: the whole view and the change from the version before; a page further behind, or a change that would not shrink, is sent JSON"
    )
    func deflationIsBounded() async throws {
        let fixture = try await HostedFixture()
        let view = await fixture.room.participantView()
        let key = [UInt8](repeating: 7, count: 32)
        var feed = RoomFeed(viewKey: key)
        func opened(_ sealed: [UInt8]?) throws -> [UInt8] {
            let bytes = try #require(sealed)
            return try #require(Sealing.open(bytes, withKey: key))
        }
        var next = view
        for version in 1...4 {
            next.version = version
            next.revealed.append(.init(id: "r\(version)", text: String(repeating: "what my father taught me ", count: 20), resonance: 0))
            feed.record(next)
        }
        let epoch = feed.epoch
        #expect(try opened(feed.update(since: nil, deflated: true)?.sealed).first == 0x78, "the whole view was not deflated")
        #expect(try opened(feed.update(since: .init(epoch: epoch, version: 3), deflated: true)?.sealed).first == 0x78)
        #expect(
            try opened(feed.update(since: .init(epoch: epoch, version: 1), deflated: true)?.sealed).first == UInt8(ascii: "{"),
            "a change from further back was deflated too")
        #expect(try opened(feed.update(since: .init(epoch: epoch, version: 3))?.sealed).first == UInt8(ascii: "{"))
        // Each is made once: asked again alike, the same bytes; a whole view (here: another
        // node's version) is the one whole view.
        let whole = feed.update(since: nil, deflated: true)?.sealed
        #expect(feed.update(since: nil, deflated: true)?.sealed == whole)
        #expect(feed.update(since: .init(epoch: "another", version: 3), deflated: true)?.sealed == whole)
        let behind = feed.update(since: .init(epoch: epoch, version: 1), deflated: true)?.sealed
        #expect(feed.update(since: .init(epoch: epoch, version: 1), deflated: true)?.sealed == behind)
        let tiny = Array(#"{"a":1}"#.utf8)
        #expect(ViewDeflation.deflate(tiny) == tiny, "what deflating would not shrink is sent as it is")
        let huge = Array(repeating: UInt8(ascii: " "), count: ViewDeflation.limit + 1)
        #expect(ViewDeflation.deflate(huge) == huge, "a view larger than pages inflate was deflated")
        #expect(ViewDeflation.inflate(ViewDeflation.deflate(Array(repeating: 32, count: 1000))) == Array(repeating: 32, count: 1000))

        // A change only the whole view says (the prompt went away): the one deflated whole view.
        try await fixture.room.session.open(prompt: 0)
        await fixture.room.changed()
        var withPrompt = await fixture.room.participantView()
        var noPrompt = view
        #expect(withPrompt.prompt != nil && noPrompt.prompt == nil)
        var gone = RoomFeed(viewKey: key)
        withPrompt.version = 1
        withPrompt.revealed = next.revealed
        gone.record(withPrompt)
        noPrompt.version = 2
        noPrompt.revealed = next.revealed
        gone.record(noPrompt)
        let after = gone.update(since: .init(epoch: gone.epoch, version: 1), deflated: true)?.sealed
        #expect(try opened(after).first == 0x78, "a whole view sent for a change was not deflated")
        #expect(after == gone.update(since: nil, deflated: true)?.sealed, "the whole view was deflated and sealed twice")
        var goneToo = RoomFeed(viewKey: key)
        goneToo.record(withPrompt)
        goneToo.record(noPrompt)
        let first = goneToo.update(since: nil, deflated: true)?.sealed
        #expect(goneToo.update(since: .init(epoch: goneToo.epoch, version: 1), deflated: true)?.sealed == first)
    }
}
