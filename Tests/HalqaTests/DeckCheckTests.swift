import Foundation
import Meeting
import Testing

@Suite("halqa deck check")
struct DeckCheckTests {
    @Test("the shipped decks are sound")
    func seededDecks() throws {
        let decks = try FileManager.default.contentsOfDirectory(atPath: CLI.repository.path + "/seeds/decks")
            .filter { $0.hasSuffix(".deck") }.map { "seeds/decks/" + $0 }
        #expect(decks.count >= 2)
        let result = try CLI.run(["deck", "check"] + decks)
        #expect(result.status == 0, "\(result.stderr)")
        for deck in decks { #expect(result.stdout.contains("\(deck): ok")) }
        #expect(result.stdout.contains("in English and Urdu and Pashto"))
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

    @Test("a deck that lacks a language it claims fails, pointing at each prompt; an unreviewed translation is reported without failing")
    func languagesAndReview() throws {
        let folder = TemporaryFolder()
        let claimed = folder.path + "/claimed.deck"
        try """
        title: Anger and the body
        title.ur: غصہ اور جسم
        languages: en ur ps
        reviewed.ur: a facilitator from Mardan, 2026-11
        [prompt]
        en: Where in your body do you feel anger first?
        ur: غصہ سب سے پہلے جسم میں کہاں محسوس ہوتا ہے؟
        ps: غوسه مو لومړی په بدن کې چېرته احساسېږي؟
        note: Start with a minute of silence.
        note.ur: ایک منٹ کی خاموشی سے شروع کریں۔
        [prompt]
        en: What helps you calm down?
        ur: آپ کو ٹھنڈا ہونے میں کیا مدد دیتا ہے؟
        """.write(toFile: claimed, atomically: true, encoding: .utf8)
        let bad = try CLI.run(["deck", "check", claimed])
        #expect(bad.status == 1)
        #expect(
            bad.stderr.contains(
                "claimed.deck:1: the title has no Pashto (\"title.ps:\"), which this deck claims in \"languages:\" (line 3)"))
        #expect(bad.stderr.contains("claimed.deck:11: prompt 2 has no Pashto (\"ps:\")"))
        #expect(bad.stderr.contains("claimed.deck:5: prompt 1's note has no Pashto (\"note.ps:\")"))
        #expect(!bad.stderr.contains("prompt 1 has no"))

        // With Pashto everywhere, the deck is sound; the Pashto is reported as unreviewed.
        var text = try String(contentsOfFile: claimed, encoding: .utf8)
        text = text.replacingOccurrences(of: "title.ur: غصہ اور جسم", with: "title.ur: غصہ اور جسم\ntitle.ps: غوسه او بدن")
        text = text.replacingOccurrences(
            of: "note.ur: ایک منٹ کی خاموشی سے شروع کریں۔",
            with: "note.ur: ایک منٹ کی خاموشی سے شروع کریں۔\nnote.ps: په یوه دقیقه چوپتیا شروع وکړئ.")
        text += "\nps: تاسو ته د ارامېدو کې څه مرسته کوي؟\n"
        try text.write(toFile: claimed, atomically: true, encoding: .utf8)
        let good = try CLI.run(["deck", "check", claimed])
        #expect(good.status == 0, "\(good.stderr)")
        #expect(good.stdout.contains("claimed.deck: Urdu: 2 of 2 prompts, 1 of 1 notes; reviewed by a facilitator from Mardan, 2026-11"))
        #expect(good.stdout.contains("claimed.deck: Pashto: 2 of 2 prompts, 1 of 1 notes; needs review by a native speaker"))

        let unknown = folder.path + "/unknown.deck"
        try "title: x\nlanguages: en pa\n[prompt]\nen: y\n".write(toFile: unknown, atomically: true, encoding: .utf8)
        let refused = try CLI.run(["deck", "check", unknown])
        #expect(refused.status == 1 && refused.stderr.contains("unknown.deck:2: \"pa\" in \"languages:\" is not a language Halqa knows"))

        // The room's language and the deck's audience are said once, in the header.
        let room = folder.path + "/room.deck"
        try "title: x\nlanguage: ps\naudience: men\n[prompt]\nen: y\nps: z\n".write(toFile: room, atomically: true, encoding: .utf8)
        let roomy = try CLI.run(["deck", "check", room])
        #expect(roomy.status == 0 && roomy.stdout.contains("for sessions of men only, the room in Pashto"), "\(roomy.stdout)")
        try "title: x\nlanguage: pashto\naudience: boys\n[prompt]\nen: y\n".write(toFile: room, atomically: true, encoding: .utf8)
        let wrong = try CLI.run(["deck", "check", room])
        #expect(wrong.status == 1)
        #expect(wrong.stderr.contains("room.deck:2: \"language: pashto\" is not a language Halqa knows: write en, ur or ps"))
        #expect(wrong.stderr.contains("room.deck:3: \"audience: boys\" is not one Halqa knows: write one of men, women, everyone."))
    }

    @Test(
        "every seeded deck is in English, Urdu and Pashto, notes too, and says who it is for (men only, but the mixed opening); its translations await review"
    )
    func seededDecksSpeakThreeLanguages() throws {
        let folder = CLI.repository.path + "/seeds/decks"
        let files = try FileManager.default.contentsOfDirectory(atPath: folder).filter { $0.hasSuffix(".deck") }.sorted()
        #expect(files.count >= 2)
        for file in files {
            let (deck, authoring) = try DeckParser.inspect(fileAt: folder + "/" + file).get()
            #expect(authoring.claimed == [.en, .ur, .ps], "\(file)")
            #expect(deck.title.languages == [.en, .ur, .ps], "\(file)")
            for (i, prompt) in deck.prompts.enumerated() {
                #expect(prompt.text.languages == [.en, .ur, .ps], "\(file) prompt \(i + 1)")
                #expect(prompt.facilitatorNote.map { $0.languages == [.en, .ur, .ps] } ?? true, "\(file) prompt \(i + 1)'s note")
                // One question per prompt (a second may ask what helps or what he would do then).
                #expect(prompt.text[.en]!.filter { $0 == "?" }.count <= 2, "\(file) prompt \(i + 1)")
            }
            #expect(deck.audience == (file == "mixed-opening.deck" ? .everyone : .men), "\(file)")
            let checked = try CLI.run(["deck", "check", folder + "/" + file])
            #expect(checked.status == 0 && checked.stdout.contains("Pashto: \(deck.prompts.count) of \(deck.prompts.count) prompts"))
            #expect(checked.stdout.contains("needs review by a native speaker"))
        }
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

@Suite("the decks that came with Halqa")
struct ShippedDeckTests {
    @Test("halqa decks lists every shipped deck and programme by the name host takes, with titles in three languages")
    func decksAreListed() throws {
        let result = try CLI.run(["decks"])
        #expect(result.status == 0, "\(result.stderr)")
        // Built from source, they are the source tree's seeds.
        #expect(result.stdout.contains("Decks in \(CLI.repository.path)/seeds/decks (host one with: halqa host --deck NAME)"))
        for name in ["knowing-myself", "mixed-opening", "real-man"] { #expect(result.stdout.contains("  \(name)  ")) }
        #expect(result.stdout.contains("  move  programme, 12 weeks"))
        #expect(result.stdout.contains("en  What makes a real man?"))
        #expect(result.stdout.contains("ur  اصل مرد"))
        #expect(result.stdout.contains("ps  "))
    }

    @Test("host takes a shipped deck by its name, and names the shipped ones when a name is unknown")
    func hostByName() throws {
        let folder = TemporaryFolder()
        let unknown = try CLI.run(["host", "--deck", "real-men", "--data", folder.path, "--no-discovery", "--port", "0"])
        #expect(unknown.status == 1)
        #expect(
            unknown.stderr.contains(
                "There is no deck \"real-men\": give a deck file, or the name of one that came with Halqa: knowing-myself, mixed-opening, real-man (halqa decks shows them)."
            ), "\(unknown.stderr)")
        #expect(!FileManager.default.fileExists(atPath: folder.path + "/halqa.sqlite"), "nothing was started")
        let programme = try CLI.run(["host", "--programme", "moves", "--group", "g", "--data", folder.path, "--no-discovery"])
        #expect(programme.status == 1)
        #expect(programme.stderr.contains("There is no programme \"moves\""))
        #expect(Installation.resolve("real-man", as: .deck) == CLI.repository.path + "/seeds/decks/real-man.deck")
        #expect(Installation.resolve("real-man.deck", as: .deck) == CLI.repository.path + "/seeds/decks/real-man.deck")
        #expect(Installation.resolve("move", as: .programme) == CLI.repository.path + "/seeds/programmes/move.programme")
        #expect(Installation.resolve("move", as: .deck) == nil)
        #expect(Installation.resolve("../decks/real-man", as: .deck) == nil)
    }

    @Test("host with nothing to host, and no terminal to ask at, says what to give")
    func hostWithoutADeck() throws {
        let folder = TemporaryFolder()
        let result = try CLI.run(["host", "--data", folder.path, "--no-discovery"])
        #expect(result.status != 0)
        #expect(result.stderr.contains("Give a deck to host (--deck NAME or FILE)"), "\(result.stderr)")
        #expect(result.stderr.contains("--deck real-man"))
        #expect(result.stderr.contains("--programme move --group LABEL"))
    }
}
