import Foundation
import Testing

@Suite("halqa deck check")
struct DeckCheckTests {
    @Test("the shipped decks are sound, in English and Urdu")
    func seededDecks() throws {
        let decks = try FileManager.default.contentsOfDirectory(atPath: CLI.repository.path + "/seeds/decks")
            .filter { $0.hasSuffix(".deck") }.map { "seeds/decks/" + $0 }
        #expect(decks.count >= 2)
        let result = try CLI.run(["deck", "check"] + decks)
        #expect(result.status == 0, "\(result.stderr)")
        for deck in decks { #expect(result.stdout.contains("\(deck): ok")) }
        #expect(result.stdout.contains("in English and Urdu"))
        for deck in decks {
            let text = try String(contentsOfFile: CLI.repository.path + "/" + deck, encoding: .utf8)
            #expect(text.contains("wants review by a native speaker"))
        }
    }

    @Test("every mistake is reported with its line, and the exit status says the deck is bad")
    func mistakesPointAtLines() throws {
        let folder = TemporaryFolder()
        let deck = folder.path + "/bad.deck"
        try """
        # a deck with mistakes
        title: Anger and the body
        [prompt]
        en: Where do you feel it?
        tme: 5 min
        [prompt]
        ur:
        time: forever
        [promt]
        en: fine
        en: twice
        """.write(toFile: deck, atomically: true, encoding: .utf8)
        let result = try CLI.run(["deck", "check", deck])
        #expect(result.status == 1)
        #expect(result.stderr.contains("bad.deck:5: unknown field \"tme\". Did you mean \"time\"?"))
        #expect(result.stderr.contains("bad.deck:7: \"ur:\" has nothing after the colon"))
        #expect(result.stderr.contains("bad.deck:8: cannot read the time \"forever\""))
        #expect(result.stderr.contains("bad.deck:9: unknown section [promt]"))
        #expect(result.stderr.contains("bad.deck:11: \"en\" is given twice in this prompt (first on line 10)"))
        #expect(result.stderr.contains("bad.deck: 5 problems"))
    }

    @Test("a deck that is not UTF-8, has no title or no prompts, or does not exist, is refused clearly")
    func unreadableDecks() throws {
        let folder = TemporaryFolder()
        let latin1 = folder.path + "/latin1.deck"
        try Data("title: ok\n[prompt]\nen: caf\u{E9}\n".data(using: .isoLatin1)!).write(to: URL(fileURLWithPath: latin1))
        let notUTF8 = try CLI.run(["deck", "check", latin1])
        #expect(notUTF8.status == 1 && notUTF8.stderr.contains("latin1.deck:3: this line is not valid UTF-8"))
        let empty = folder.path + "/empty.deck"
        try "# nothing\n".write(toFile: empty, atomically: true, encoding: .utf8)
        let none = try CLI.run(["deck", "check", empty])
        #expect(none.stderr.contains("no title") && none.stderr.contains("no prompts"))
        let missing = try CLI.run(["deck", "check", folder.path + "/nope.deck"])
        #expect(missing.status == 1 && missing.stderr.contains("cannot read the file"))
    }
}
