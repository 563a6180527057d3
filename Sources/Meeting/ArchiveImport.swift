import Foundation

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
    /// Files larger than this are not transcripts and are not read.
    static let largestFile = 64 << 20

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

extension TranscriptStore {
    /// Imports one file: a JSON export, or an encrypted one opened with `passphrase` (asked
    /// for only when a file needs it). Never throws: every failure is the file's outcome, and
    /// a refused file stores nothing.
    public func importFile(_ path: String, passphrase: () throws(MeetingError) -> String) async -> ImportOutcome {
        func outcome(_ kind: ImportOutcome.Kind, _ message: String) -> ImportOutcome {
            ImportOutcome(file: path, kind: kind, newEvents: 0, message: message)
        }
        let size = (try? FileManager.default.attributesOfItem(atPath: path)[.size] as? Int) ?? 0
        guard size <= ArchiveImport.largestFile else { return outcome(.skipped, "not a Halqa export (too large to be one)") }
        guard let bytes = FileManager.default.contents(atPath: path) else {
            return ImportOutcome(file: path, kind: .refused, newEvents: 0, message: "cannot be read; check that you may read it")
        }
        return await importBytes(bytes, named: path, passphrase: passphrase)
    }

    /// Imports one file's bytes (``importFile(_:passphrase:)``); `name` is only for the outcome.
    public func importBytes(_ bytes: Data, named name: String, passphrase: () throws(MeetingError) -> String) async -> ImportOutcome {
        func outcome(_ kind: ImportOutcome.Kind, _ message: String) -> ImportOutcome {
            ImportOutcome(file: name, kind: kind, newEvents: 0, message: message)
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
            let result = try await importTranscript(bytes)
            let kind: ImportOutcome.Kind = result.newEvents == 0 ? .alreadyHere : result.merged ? .merged : .added
            let message =
                switch kind {
                case .added: "added \"\(result.title)\" (\(result.events) events)"
                case .merged: "merged \(result.newEvents) new events into \"\(result.title)\""
                default: "already here: \"\(result.title)\""
                }
            return ImportOutcome(
                file: name, kind: kind, session: result.session.hex, title: result.title, newEvents: result.newEvents, message: message)
        } catch {
            return outcome(.refused, error.message)
        }
    }
}
