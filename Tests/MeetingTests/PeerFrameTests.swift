import Testing

@testable import Meeting

/// What other laptops' links show on the air: TLS hides the bytes, not their number.
@Suite("Frames between laptops")
struct PeerFrameTests {
    @Test("a short reflection and a 1,000-letter one are pushed in frames of one size; padding reads back, and only zeros are padding")
    func eventsArePadded() throws {
        let session = EventID(bytes: [UInt8](repeating: 7, count: 32))!
        let short = [UInt8](repeating: 0x41, count: 300)
        let long = Array(String(repeating: "غصہ ", count: 250).utf8) + [UInt8](repeating: 0x42, count: 600)
        let a = PeerMessage.events(session: session, events: [short]).encoded()
        let b = PeerMessage.events(session: session, events: [long]).encoded()
        #expect(a.count == b.count && a.count == PeerMessage.eventsPadding)
        guard case .events(_, let events) = try PeerMessage(decoding: b) else {
            Issue.record("not an events message")
            return
        }
        #expect(events == [long])
        var dirty = a
        dirty[dirty.count - 1] = 1
        #expect(throws: MeetingError.self) { try PeerMessage(decoding: dirty) }
        // Several events pad to the next multiple.
        let many = PeerMessage.events(session: session, events: Array(repeating: long, count: 5)).encoded()
        #expect(many.count % PeerMessage.eventsPadding == 0)
    }

    @Test("a beat is one byte on the link, and a beat that carries anything is refused")
    func beat() throws {
        #expect(PeerMessage.beat.encoded() == [14])
        #expect(try PeerMessage(decoding: [14]) == .beat)
        #expect(throws: MeetingError.self) { try PeerMessage(decoding: [14, 0]) }
    }
}
