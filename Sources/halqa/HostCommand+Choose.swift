import ArgumentParser
import Foundation
import Meeting

/// `halqa host` for someone who does not know the names of the decks: without a deck, a
/// programme or `--resume`, it lists what came with Halqa and asks which (as the desktop
/// entry starts it); and `--deck NAME` finds a deck that came with Halqa by its name.
extension HostCommand {
    enum Choice: Equatable {
        case deck(String)
        case programme(String, group: String)
    }

    /// A deck or programme as given: a file, or the name of one that came with Halqa.
    static func resolve(_ given: String, as kind: Installation.Kind) throws -> String {
        if let path = Installation.resolve(given, as: kind) { return path }
        // A path that does not exist is reported by the deck's reader, with the rest.
        if given.contains("/") { return given }
        let names = Installation.shipped(kind).map(\.name)
        let what = kind == .deck ? "deck" : "programme"
        throw fail(
            MeetingError(
                .storage,
                "There is no \(what) \"\(given)\": give a \(what) file, or the name of one that came with Halqa"
                    + (names.isEmpty ? " (none did)" : ": \(names.joined(separator: ", ")) (halqa decks shows them)") + "."))
    }

    /// Lists the decks and programmes that came with Halqa and asks which to host (and, for a
    /// programme, the group), reading answers from the terminal.
    static func choose() throws -> Choice {
        let shipped = Shipped.all().filter(\.readable)
        guard isatty(STDIN_FILENO) == 1, !shipped.isEmpty else {
            let names = shipped.map { $0.kind == .deck ? "--deck \($0.name)" : "--programme \($0.name) --group LABEL" }
            throw ValidationError(
                "Give a deck to host (--deck NAME or FILE), a programme (--programme NAME --group LABEL), or --resume SESSION"
                    + (names.isEmpty ? "." : "; these came with Halqa: " + names.joined(separator: ", ") + "."))
        }
        print("Which deck or programme will this circle use?\n")
        for (number, item) in shipped.enumerated() {
            print("  \(String(number + 1).leftPadded(to: 2))  \(item.title) (\(item.summary))")
            for line in item.titles where !line.hasSuffix("  " + item.title) { print("          \(line)") }
        }
        print()
        let item = try ask("Type its number and press Enter: ", unless: "That is not one of the numbers above.") { answer in
            Int(answer).flatMap { (1...shipped.count).contains($0) ? shipped[$0 - 1] : nil }
        }
        print()
        guard item.kind == .programme else { return .deck(item.path) }
        let group = try ask(
            "Which group is meeting? Type its label, the same every week (a code name is safer than a village's name): ",
            unless: "Type a label of 1 to 64 letters."
        ) { answer in answer.isEmpty || answer.count > 64 ? nil : answer }
        return .programme(item.path, group: group)
    }

    /// Asks until `read` takes the answer; the end of input stops halqa.
    private static func ask<T>(_ question: String, unless refusal: String, _ read: (String) -> T?) throws -> T {
        while true {
            print(question, terminator: "")
            guard let line = readLine() else {
                print()
                throw ExitCode(1)
            }
            if let value = read(line.trimmingCharacters(in: .whitespaces)) { return value }
            print(refusal)
        }
    }
}

extension String {
    fileprivate func leftPadded(to width: Int) -> String { String(repeating: " ", count: max(0, width - count)) + self }
}
