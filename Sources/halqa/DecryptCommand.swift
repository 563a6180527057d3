import ArgumentParser
import Foundation
import Meeting

struct Decrypt: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Unlock an export written with --encrypt, to read it.",
        discussion:
            "Writes to standard output unless --output is given. Mind where you write it: the decrypted file is readable by anyone who has the stick."
    )

    @Argument(help: ArgumentHelp("A file written by `halqa export ... --encrypt`.", valueName: "FILE")) var file: String
    @Option(help: ArgumentHelp("Write to this file instead of standard output.", valueName: "FILE")) var output: String?
    @OptionGroup var passphrase: PassphraseOptions

    func run() async throws {
        guard let bytes = FileManager.default.contents(atPath: file) else {
            throw fail(MeetingError(.invalidTranscript, "Cannot read \(file). Check the path and that you may read it."))
        }
        do {
            let plain = try SealedFile.open(bytes, passphrase: try passphrase.read(purpose: "of \(file)", confirm: false))
            try deliver(plain, to: output, what: "the decrypted export")
        } catch { throw fail(error) }
    }
}
