import ArgumentParser
import Foundation
import Meeting

/// `halqa decks`: the decks and programmes that came with Halqa, by the names `halqa host`
/// takes, with their titles in each language they have.
struct DecksCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "decks",
        abstract: "List the decks and programmes that came with Halqa, with their titles in English, Urdu and Pashto.",
        discussion:
            "Host one by its name: halqa host --deck real-man, or halqa host --programme move --group LABEL. Decks of your own are files (their format: /usr/share/doc/halqa/docs/decks.md, or docs/decks.md in the source)."
    )

    func run() throws {
        let shipped = Shipped.all()
        if shipped.isEmpty {
            print("No decks came with this Halqa. Host one of your own with: halqa host --deck FILE (see docs/decks.md).")
            return
        }
        for kind in Installation.Kind.allCases {
            let items = shipped.filter { $0.kind == kind }
            guard let first = items.first else { continue }
            let folder = (first.path as NSString).deletingLastPathComponent
            print(
                kind == .deck
                    ? "Decks in \(folder) (host one with: halqa host --deck NAME)"
                    : "Programmes in \(folder) (host the next week with: halqa host --programme NAME --group LABEL)")
            for item in items {
                print("  \(item.name)  \(item.summary)")
                for line in item.titles { print("      \(line)") }
            }
            print()
        }
    }
}

/// A deck or programme that came with Halqa, read for listing and choosing.
struct Shipped {
    let kind: Installation.Kind
    let name: String
    let path: String
    /// e.g. "6 prompts" or "programme, 12 weeks"; says so when the file has a mistake.
    let summary: String
    /// The title in each language it has, English first ("en  Title").
    let titles: [String]
    /// Its title in English if it has one, else in its first language; its name if unreadable.
    let title: String

    static func all() -> [Shipped] {
        Installation.Kind.allCases.flatMap { kind in
            Installation.shipped(kind).map { name, path in Shipped(kind: kind, name: name, path: path) }
        }
    }

    /// Whether it reads without mistakes (`halqa deck check` says what they are).
    let readable: Bool

    init(kind: Installation.Kind, name: String, path: String) {
        self.kind = kind
        self.name = name
        self.path = path
        let read: Result<(title: LocalizedText, summary: String), DeckParser.Failure> =
            kind == .deck
            ? DeckParser.parse(fileAt: path).map { ($0.title, "\($0.prompts.count) prompts") }
            : ProgrammeParser.parse(fileAt: path).map { ($0.title, "programme, \($0.weeks.count) weeks") }
        switch read {
        case .success(let (title, summary)):
            self.summary = summary
            titles = Language.allCases.compactMap { language in title[language].map { "\(language.rawValue)  \($0)" } }
            self.title = title.preferring(.en)
            readable = true
        case .failure:
            summary = "has mistakes (halqa deck check \(path))"
            titles = []
            title = name
            readable = false
        }
    }
}
