import Testing

@testable import Meeting

/// When a phone's reflection is acknowledged, as the links to other laptops come and go.
@Suite("The second copy")
struct SecondCopyTests {
    @Test("when the last co-facilitator's link drops, waiting phones are answered at once; a copy already stored still counts")
    func noSecondCopyCanCome() {
        let ids = (1...3).map { EventID(bytes: [UInt8](repeating: UInt8($0), count: 32))! }
        var copies = SecondCopy()
        for id in ids { copies.sent(id) }
        #expect(copies.wait(for: ids[0]) == .wait)
        #expect(copies.stored([ids[1]], from: .coFacilitator) == [])
        #expect(copies.noneCanCome() == [ids[0]])
        #expect(copies.wait(for: ids[1]) == .confirmed)
        #expect(copies.wait(for: ids[2]) == .ownCopyStands)
        #expect(copies.inFlight == 0)
    }
}
