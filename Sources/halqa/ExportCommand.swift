import ArgumentParser
import Foundation
import Meeting

struct Export: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Write a session's transcript: prompts, revealed reflections, resonance and notes.",
        discussion: """
            Hidden and unrevealed reflections are never exported. The JSON format is described in \
            docs/transcript.md. With --encrypt the file is locked with a passphrase (scrypt and \
            ChaCha20-Poly1305) for carrying on a USB stick; `halqa import` and `halqa decrypt` ask for it.
            """)

    enum Format: String, ExpressibleByArgument, CaseIterable { case markdown, json }

    @OptionGroup var data: DataOptions
    @Argument(help: ArgumentHelp("The session's id, or its first few characters (see `halqa sessions`).", valueName: "SESSION"))
    var session: String
    @Option(help: "markdown (to read and print) or json (to import on another node).") var format: Format = .markdown
    @Option(help: ArgumentHelp("Write to this file instead of standard output.", valueName: "FILE")) var output: String?
    @Flag(help: "Lock the file with a passphrase (asked twice, or read with --passphrase-file).") var encrypt = false
    @OptionGroup var passphrase: PassphraseOptions

    func validate() throws {
        if encrypt && output == nil {
            throw ValidationError("An encrypted export is a binary file: give --output FILE, for example a file on the USB stick.")
        }
        if !encrypt && passphrase.passphraseFile != nil {
            throw ValidationError("--passphrase-file is for --encrypt; add --encrypt to lock the export.")
        }
    }

    func run() async throws {
        guard data.exists else { throw fail(MeetingError(.noSuchSession, "There are no sessions in \(data.folder).")) }
        let store = try data.open()
        do {
            let transcript = Transcript(try store.state(of: try store.resolveSession(session)))
            var bytes = format == .json ? transcript.json() : Data(transcript.markdown().utf8)
            if encrypt {
                bytes = try SealedFile.seal(bytes, passphrase: try passphrase.read(purpose: "to lock the export", confirm: true))
            }
            try deliver(bytes, to: output, what: "the export")
            if let output {
                FileHandle.standardError.put(
                    Data("Wrote \(transcript.session.title) to \(output)\(encrypt ? ", encrypted" : "").\n".utf8))
            }
        } catch { throw fail(error) }
    }
}
