import ArgumentParser
import Foundation
import Meeting

struct DeckCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "deck", abstract: "Work with prompt decks.", subcommands: [Check.self])

    struct Check: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Check deck and programme files and point at the line of each mistake.",
            discussion:
                "The formats are described in docs/decks.md; a file ending in .programme is a programme, checked with every deck it names. Exits 0 when every file is sound."
        )

        @Argument(help: ArgumentHelp("Deck (.deck) and programme (.programme) files to check.", valueName: "FILE"))
        var files: [String]

        func validate() throws {
            if files.isEmpty { throw ValidationError("Give at least one deck file, e.g. seeds/decks/real-man.deck") }
        }

        func run() throws {
            var failed = false
            for file in files {
                if file.hasSuffix(".programme") {
                    failed = !Self.checkProgramme(file) || failed
                    continue
                }
                switch DeckParser.inspect(fileAt: file) {
                case .success(let (deck, authoring)):
                    print("\(file): ok — \(DeckCheckReport.summary(of: deck))")
                    for line in DeckCheckReport.translations(of: deck, authoring) { print("\(file): \(line)") }
                case .failure(let failure):
                    failed = true
                    Self.report(failure, in: file)
                }
            }
            if failed { throw ExitCode(1) }
        }

        /// A programme: its weeks in order, each deck read as `deck check` reads one.
        static func checkProgramme(_ file: String) -> Bool {
            switch ProgrammeParser.parse(fileAt: file) {
            case .success(let programme):
                print("\(file): ok — programme \"\(programme.title.preferring(.en))\", \(programme.weeks.count) weeks")
                let missing = Language.allCases.filter { programme.title[$0] == nil }.map(\.englishName)
                if !missing.isEmpty { print("\(file): note: the title has no \(missing.joined(separator: " or "))") }
                for week in programme.weeks {
                    print("\(file): week \(week.number): \(week.path) — \(DeckCheckReport.summary(of: week.deck))")
                }
                return true
            case .failure(let failure):
                report(failure, in: file)
                return false
            }
        }

        /// Every problem on its own line, `FILE:LINE: message`, then how many there are.
        static func report(_ failure: DeckParser.Failure, in file: String) {
            for problem in failure.problems {
                let place = problem.line > 0 ? "\(file):\(problem.line)" : file
                FileHandle.standardError.put(Data("\(place): \(problem.message)\n".utf8))
            }
            let n = failure.problems.count
            FileHandle.standardError.put(
                Data("\(file): \(n) problem\(n == 1 ? "" : "s"); fix \(n == 1 ? "it" : "them") and check again.\n".utf8))
        }
    }
}

enum DeckCheckReport {
    /// One line per translation: how much of the deck it covers, and whether a native
    /// speaker reviewed it (unreviewed is reported, not a failure).
    static func translations(of deck: Deck, _ authoring: DeckParser.Authoring) -> [String] {
        let languages = Set(deck.prompts.flatMap(\.text.languages) + deck.title.languages + authoring.claimed).subtracting([.en]).sorted()
        return languages.map { language in
            let covered = deck.prompts.filter { $0.text[language] != nil }.count
            let title = deck.title[language] == nil ? ", no title" : ""
            let notes = deck.prompts.compactMap(\.facilitatorNote)
            let notesCovered = notes.isEmpty ? "" : ", \(notes.filter { $0[language] != nil }.count) of \(notes.count) notes"
            let review =
                authoring.reviewed[language].map { "reviewed by \($0)" }
                ?? "needs review by a native speaker (add \"reviewed.\(language.rawValue): who, where, when\" once one has read it)"
            return "\(language.englishName): \(covered) of \(deck.prompts.count) prompts\(notesCovered)\(title); \(review)"
        }
    }

    static func summary(of deck: Deck) -> String {
        let languages = Set(deck.prompts.flatMap(\.text.languages)).sorted().map(\.englishName)
        let minutes = deck.prompts.compactMap(\.timeBox).reduce(0, +) / 60
        let checkIns = deck.prompts.filter(\.isCheckIn).count
        let written = deck.prompts.count - checkIns
        var parts = [
            "\"\(deck.title.preferring(.en))\"",
            "\(written) prompt\(written == 1 ? "" : "s")" + (checkIns > 0 ? " and \(checkIns) check-in\(checkIns == 1 ? "" : "s")" : ""),
            "in " + languages.joined(separator: " and "),
        ]
        if minutes > 0 { parts.append("\(minutes) min of time boxes") }
        if let audience = deck.audience { parts.append(audience.description) }
        if let language = deck.language { parts.append("the room in \(language.englishName)") }
        let missing = deck.prompts.enumerated().flatMap { i, p in
            Set(languages).subtracting(p.text.languages.map(\.englishName)).sorted().map { "prompt \(i + 1) has no \($0)" }
        }
        if !missing.isEmpty { parts.append("note: " + missing.joined(separator: ", ")) }
        return parts.joined(separator: ", ")
    }
}
