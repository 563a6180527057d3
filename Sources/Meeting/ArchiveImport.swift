import Foundation
import Synchronization

/// What became of one file of `halqa archive import` (docs/archive.md, "Collecting").
public struct ImportOutcome: Codable, Hashable, Sendable {
    public enum Kind: String, Codable, Sendable {
        /// A session new to the archive.
        case added
        /// Events this archive lacked, merged into a session it held.
        case merged
        /// Nothing new: every event was here already.
        case alreadyHere = "already-here"
        /// A Halqa export that was not taken, and why (damaged, altered, wrong passphrase):
        /// nothing of it was stored.
        case refused
        /// Not a Halqa export that can be imported (a photo, a Markdown export).
        case skipped
    }
    public var file: String
    public var kind: Kind
    public var session: String?
    public var title: String?
    public var newEvents: Int
    /// One line for a person: what happened and, when refused, what to do.
    public var message: String
}

/// Collecting exports from folders: a USB stick's worth at once, each file verified and
/// stored whole or not at all.
public enum ArchiveImport {
    /// Files larger than this are refused unread: a transcript and its encryption.
    public static let largestFile = Limits.transcriptBytes + 4096

    /// The files under `paths` (folders walked; hidden files and folders such as a stick's
    /// `.Trashes` left out), sorted, or a refusal naming a path that does not exist.
    public static func files(in paths: [String]) throws(MeetingError) -> [String] {
        let manager = FileManager.default
        var out: [String] = []
        for path in paths {
            var isFolder: ObjCBool = false
            guard manager.fileExists(atPath: path, isDirectory: &isFolder) else {
                throw MeetingError(.invalidTranscript, "\(path) does not exist. Give the folder (or file) that holds the exports.")
            }
            guard isFolder.boolValue else {
                out.append(path)
                continue
            }
            guard let walker = manager.enumerator(atPath: path) else {
                throw MeetingError(.invalidTranscript, "Cannot read the folder \(path). Check that you may read it.")
            }
            var found: [String] = []
            while let relative = walker.nextObject() as? String {
                let name = (relative as NSString).lastPathComponent
                if name.hasPrefix(".") {
                    walker.skipDescendants()
                    continue
                }
                let full = (path as NSString).appendingPathComponent(relative)
                if walker.fileAttributes?[.type] as? FileAttributeType == .typeRegular { found.append(full) }
            }
            out += found.sorted()
        }
        return out
    }
}

extension ArchiveImport {
    /// What reading a file that should be an export came to.
    public enum FileBytes {
        case bytes(Data)
        /// Larger than an export can be (``largestFile``).
        case tooLarge
        /// Not a plain file: a device such as `/dev/zero`, reached by a link, would be read
        /// without end.
        case notAFile
        case unreadable
    }

    /// Why a file larger than ``largestFile`` is refused, after its name.
    public static let tooLarge = "too large to be a Halqa export (a transcript may be at most \(Limits.transcriptBytes >> 20) MiB)"

    /// The bytes of the file at `path` (a link followed), read only if it is a plain file no
    /// larger than an export can be.
    public static func read(_ path: String) -> FileBytes {
        var info = stat()
        guard stat(path, &info) == 0 else { return .unreadable }
        guard info.st_mode & S_IFMT == S_IFREG else { return .notAFile }
        guard info.st_size <= largestFile else { return .tooLarge }
        guard let bytes = FileManager.default.contents(atPath: path) else { return .unreadable }
        // A file that grew after it was measured.
        return bytes.count <= largestFile ? .bytes(bytes) : .tooLarge
    }
}

/// A passphrase asked for at most once, when the first encrypted file needs it, whichever
/// task asks first; every later file gets the same answer (or the same refusal).
public final class AskOnce: Sendable {
    private let ask: @Sendable () throws(MeetingError) -> String
    private let answer = Mutex<Result<String, MeetingError>?>(nil)

    public init(_ ask: @escaping @Sendable () throws(MeetingError) -> String) { self.ask = ask }

    public func get() throws(MeetingError) -> String {
        try answer.withLock { held throws(MeetingError) -> String in
            if held == nil {
                do throws(MeetingError) { held = .success(try ask()) } catch { held = .failure(error) }
            }
            return try held!.get()
        }
    }
}

extension TranscriptStore {
    /// What reading and verifying a file came to, before anything is stored.
    enum Prepared: Sendable {
        case done(ImportOutcome)
        case verified(SessionState)
    }

    /// Imports files in order, each stored whole or not at all, reporting each as it is done.
    /// Files are read, opened and verified several at a time on every core (on threads of
    /// their own: ``VerifyingExecutor``) while the ones before them are stored, so a stick of
    /// hundreds of exports costs little more than verifying their signatures. They are stored
    /// a batch at a time (``save(all:)``): one commit, and one piece of the search index, for
    /// several sessions.
    public func importFiles(_ paths: [String], passphrase: AskOnce, report: (ImportOutcome) async -> Void) async {
        let batchSize = max(4, ProcessInfo.processInfo.activeProcessorCount * 4)
        // Read ahead: four batches, or fewer while the files read and not yet stored come to
        // `budget` (a file too large to be an export is refused unread: it counts nothing).
        // With two, the cores waited while a batch was stored (bench-archive: import 1.72-1.90×
        // its floor, against 1.57-1.71× with four); eight was no better (1.70-1.75×).
        let ahead = 4 * batchSize
        let budget = 64 << 20
        let sizes = paths.map { (try? FileManager.default.attributesOfItem(atPath: $0)[.size] as? Int) ?? 0 }
        let counted = sizes.map { $0 <= ArchiveImport.largestFile ? $0 : 0 }
        var next = 0
        var done = 0
        await withTaskGroup(of: (Int, Prepared).self) { group in
            var canStart: Bool {
                next < paths.count && next < done + ahead && (next == done || counted[done..<next].reduce(counted[next], +) <= budget)
            }
            func startMore() {
                while canStart {
                    let (index, path) = (next, paths[next])
                    // Off the cooperative pool, so the loop below and its writes answer at once.
                    group.addTask(executorPreference: VerifyingExecutor.shared) {
                        (index, await TranscriptStore.prepare(path, passphrase: passphrase))
                    }
                    next += 1
                }
            }
            startMore()
            // Verified files wait here to be stored in order. A batch is stored when it is
            // full, when it holds every file left to read, or when the next file is of a session
            // already in it (a session at most once in each); and, once every file has been
            // started, when it is half full, so that little is left to store after the last
            // file is verified, with one core idle (a whole batch: about 1 % of a 250-file stick).
            var waiting: [Int: Prepared] = [:]
            while done < paths.count, let (index, prepared) = await group.next() {
                waiting[index] = prepared
                while true {
                    var batch: [Prepared] = []
                    var sessions = Set<EventID>()
                    var cut = false
                    while batch.count < batchSize, let ready = waiting[done + batch.count] {
                        if case .verified(let state) = ready, !sessions.insert(state.id).inserted {
                            cut = true
                            break
                        }
                        batch.append(ready)
                    }
                    let last = done + batch.count == next && !canStart
                    let tail = next == paths.count && 2 * batch.count >= batchSize
                    guard !batch.isEmpty, batch.count == batchSize || cut || last || tail else { break }
                    let stored = done..<(done + batch.count)
                    for i in stored { waiting[i] = nil }
                    for outcome in await store(batch, paths: Array(paths[stored])) { await report(outcome) }
                    done = stored.upperBound
                }
                startMore()
            }
        }
    }

    /// Imports one file's bytes: a JSON export, or an encrypted one opened with `passphrase`
    /// (asked for only when it is encrypted); `name` is only for the outcome. Never throws:
    /// every failure is the file's outcome, and a refused file stores nothing.
    public func importBytes(_ bytes: Data, named name: String, passphrase: () throws(MeetingError) -> String) async -> ImportOutcome {
        await store(await TranscriptStore.prepare(bytes, named: name, passphrase: passphrase), path: name)
    }

    /// Reads (if it is a file no larger than an export can be: ``ArchiveImport/read(_:)``),
    /// opens and verifies a file.
    static func prepare(_ path: String, passphrase: AskOnce) async -> Prepared {
        func refused(_ message: String) -> Prepared { .done(ImportOutcome(file: path, kind: .refused, newEvents: 0, message: message)) }
        switch ArchiveImport.read(path) {
        case .bytes(let bytes): return await prepare(bytes, named: path) { () throws(MeetingError) -> String in try passphrase.get() }
        case .tooLarge: return refused(ArchiveImport.tooLarge)
        case .notAFile: return refused("not a file (a device or a folder, reached by a link); give the exports themselves")
        case .unreadable: return refused("cannot be read; check that you may read it")
        }
    }

    /// Opens (if encrypted) and verifies a file's bytes; nothing is stored.
    static func prepare(_ bytes: Data, named name: String, passphrase: () throws(MeetingError) -> String) async -> Prepared {
        func outcome(_ kind: ImportOutcome.Kind, _ message: String) -> Prepared {
            .done(ImportOutcome(file: name, kind: kind, newEvents: 0, message: message))
        }
        var bytes = bytes
        if SealedFile.isSealed(bytes) {
            do {
                bytes = try SealedFile.open(bytes, passphrase: try passphrase())
            } catch {
                return outcome(.refused, error.message)
            }
        }
        let first = bytes.first { !(UInt8(ascii: " ") == $0 || UInt8(ascii: "\n") == $0 || UInt8(ascii: "\r") == $0 || $0 == 9) }
        guard first == UInt8(ascii: "{") else {
            return outcome(
                .skipped,
                bytes.first == UInt8(ascii: "#")
                    ? "a Markdown export, which is for reading: only JSON exports (--format json) can be imported"
                    : "not a Halqa export")
        }
        do {
            return .verified(try await Transcript.verified(from: bytes))
        } catch {
            return outcome(.refused, error.message)
        }
    }

    /// Stores what ``prepare(_:named:passphrase:)`` verified.
    func store(_ prepared: Prepared, path: String) async -> ImportOutcome {
        await store([prepared], paths: [path])[0]
    }

    /// Stores files verified by ``prepare(_:named:passphrase:)``, none of the same session
    /// as another, together (``save(all:)``): whatever becomes of the others, each is stored,
    /// or refused with nothing of it stored, or (the pending file failing after the main one)
    /// refused with what it adds to the main file kept, which importing it again completes.
    func store(_ prepared: [Prepared], paths: [String]) async -> [ImportOutcome] {
        let verified = prepared.enumerated().compactMap { i, file -> (Int, SessionState)? in
            if case .verified(let state) = file { (i, state) } else { nil }
        }
        var outcomes: [ImportOutcome?] = prepared.map {
            if case .done(let outcome) = $0 { outcome } else { nil }
        }
        for ((i, _), stored) in zip(verified, await importVerified(verified.map(\.1))) {
            let result: ImportResult
            switch stored! {
            case .success(let done): result = done
            case .failure(let error):
                outcomes[i] = ImportOutcome(file: paths[i], kind: .refused, newEvents: 0, message: error.message)
                continue
            }
            let kind: ImportOutcome.Kind = result.newEvents == 0 ? .alreadyHere : result.merged ? .merged : .added
            let message =
                switch kind {
                case .added: "added \"\(result.title)\" (\(result.events) events)"
                case .merged: "merged \(result.newEvents) new events into \"\(result.title)\""
                case .alreadyHere, .refused, .skipped: "already here: \"\(result.title)\""
                }
            outcomes[i] = ImportOutcome(
                file: paths[i], kind: kind, session: result.session.hex, title: result.title, newEvents: result.newEvents,
                message: message)
        }
        return outcomes.map { $0! }
    }
}
