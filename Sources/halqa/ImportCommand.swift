import ArgumentParser
import Foundation
import Meeting

struct Import: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Load a transcript exported as JSON into this node's data folder.",
        discussion: """
            Every event in the file is verified first; an altered file is refused whole. Importing a \
            session this node already holds merges it. An encrypted export asks for its passphrase.
            """)

    @OptionGroup var data: DataOptions
    @Argument(help: ArgumentHelp("A file written by `halqa export SESSION --format json`.", valueName: "FILE")) var file: String
    @OptionGroup var passphrase: PassphraseOptions

    func run() async throws {
        var bytes: Data
        switch ArchiveImport.read(file) {
        case .bytes(let read): bytes = read
        case .tooLarge: throw fail(MeetingError(.invalidTranscript, "\(file) is \(ArchiveImport.tooLarge)."))
        case .notAFile:
            throw fail(MeetingError(.invalidTranscript, "\(file) is not a file (a device or a folder). Give the export itself."))
        case .unreadable:
            throw fail(MeetingError(.invalidTranscript, "Cannot read \(file). Check the path and that you may read it."))
        }
        do throws(MeetingError) {
            if SealedFile.isSealed(bytes) {
                bytes = try SealedFile.open(bytes, passphrase: try passphrase.read(purpose: "of \(file)", confirm: false))
                if bytes.first != UInt8(ascii: "{") {
                    throw MeetingError(
                        .invalidTranscript,
                        "\(file) holds a Markdown export, which is for reading: open it with `halqa decrypt \(file)`. Only JSON exports (--format json) can be imported."
                    )
                }
            }
        } catch { throw fail(error) }
        let store = try data.open()
        do {
            let result = try await store.importTranscript(bytes)
            let already = result.events - result.newEvents
            print(
                "Imported \"\(result.title)\" (\(result.session.short)): \(result.newEvents) new event\(result.newEvents == 1 ? "" : "s")"
                    + (already > 0 ? ", \(already) already here." : "."))
        } catch { throw fail(error) }
    }
}
