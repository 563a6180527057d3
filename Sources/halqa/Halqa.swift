import ArgumentParser
import Foundation
import Meeting
import Node

@main
struct Halqa: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "halqa",
        abstract: "Run facilitated group conversations on a local network, with anonymous reflections.",
        discussion: """
            Sessions are kept in the data folder: --data DIR, else $HALQA_DATA, else \
            $XDG_DATA_HOME/halqa (~/.local/share/halqa).
            """,
        version: HalqaVersion.current,
        subcommands: [
            HostCommand.self, NodeCommand.self, ListCommand.self, DecksCommand.self, DeckCommand.self, Sessions.self, Export.self,
            Import.self, Decrypt.self,
            Search.self, ArchiveCommand.self, DigestCommand.self, WipeCommand.self,
        ]
    )
}

/// Where the node keeps its transcript.
struct DataOptions: ParsableArguments {
    @Option(name: .long, help: ArgumentHelp("The data folder holding the transcript database.", valueName: "DIR"))
    var data: String?

    var folder: String {
        if let data { return data }
        let env = ProcessInfo.processInfo.environment
        if let dir = env["HALQA_DATA"], !dir.isEmpty { return dir }
        if let xdg = env["XDG_DATA_HOME"], !xdg.isEmpty { return xdg + "/halqa" }
        return (env["HOME"] ?? NSHomeDirectory()) + "/.local/share/halqa"
    }

    /// Whether a store already exists here (reading commands do not create one).
    var exists: Bool { FileManager.default.fileExists(atPath: folder + "/" + TranscriptStore.fileName) }

    /// `forWipe`: without a migration that only rebuilds the search index (``TranscriptStore/init(folder:forWipe:)``).
    func open(forWipe: Bool = false) throws -> TranscriptStore {
        let store: TranscriptStore
        do { store = try TranscriptStore(folder: folder, forWipe: forWipe) } catch { throw fail(error) }
        announce(store.schemaUpdate, folder: folder)
        return store
    }

    /// Opens the store for reading the archive or searching: sessions not yet indexed for
    /// them (a folder from before the archive) are indexed first, once; one that cannot be
    /// read is named on standard error and left out.
    func openArchive() throws -> TranscriptStore {
        let store = try open()
        do {
            for problem in try store.fillArchive() { FileHandle.standardError.put(Data("halqa: \(problem)\n".utf8)) }
        } catch { throw fail(error) }
        return store
    }
}

/// Says on standard error that opening updated an older data folder (after a new package).
func announce(_ update: TranscriptStore.SchemaUpdate?, folder: String) {
    if let update { FileHandle.standardError.put(Data("halqa: \(update.message(folder: folder))\n".utf8)) }
}

/// Prints a refusal as one clear line on standard error and gives the exit code for it.
func fail(_ error: MeetingError) -> ExitCode { fail(message: error.message) }

/// The same for a node that could not start or serve (a port in use, a bad address).
func fail(_ error: HostError) -> ExitCode { fail(message: error.message) }

private func fail(message: String) -> ExitCode {
    FileHandle.standardError.put(Data("halqa: \(message)\n".utf8))
    return ExitCode(1)
}

func printJSON(_ value: some Encodable) {
    let encoder = JSONEncoder()
    encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
    print(String(decoding: try! encoder.encode(value), as: UTF8.self))
}

/// Writes a file whole or not at all (a temporary file renamed into place).
func writeAtomically(_ data: Data, to path: String) throws(MeetingError) {
    do {
        try data.write(to: URL(fileURLWithPath: path), options: [.atomic])
    } catch {
        throw MeetingError(
            .storage, "Cannot write \(path): \(error.localizedDescription). Check the folder exists and you may write there.")
    }
}
