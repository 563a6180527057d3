import Foundation
import Meeting

extension FileHandle {
    /// Writes a line for a person and moves on. Output that no one reads any more (a pipe whose
    /// reader ended, such as `| head` or a `less` that was quit) loses the line, never the
    /// program: Foundation's `write(_:)` stops the process on such a write, and a node would
    /// leave its meeting at its next line ("Linked with …").
    func put(_ text: Data) { try? write(contentsOf: text) }

    /// Writes a file's bytes (an export, a decrypted export) whole, or says why not: a reader
    /// that stopped early must not look like a file written in full. (Where SIGPIPE is left as
    /// it is, the system ends the program first, as it does any other.)
    fileprivate func putWhole(_ bytes: Data, what: String) throws(MeetingError) {
        do {
            try write(contentsOf: bytes)
        } catch {
            let code = ((error as NSError).userInfo[NSUnderlyingErrorKey] as? NSError)?.code
            let reason = code.map { String(cString: strerror(Int32($0))) } ?? "\(error)"
            let why =
                code == Int(EPIPE)
                ? "the program reading it stopped before the end. Write it to a file instead, with --output FILE."
                : "it was not written in full. Make room where it goes (or write it elsewhere, with --output FILE) and try again."
            throw MeetingError(.storage, "Could not write \(what) to standard output (\(reason)): \(why)")
        }
    }
}

/// Writes a file's bytes to `output` whole or not at all (``writeAtomically(_:to:)``), or, with
/// no `output`, to standard output (``FileHandle/putWhole(_:what:)``).
func deliver(_ bytes: Data, to output: String?, what: String) throws(MeetingError) {
    if let output { try writeAtomically(bytes, to: output) } else { try FileHandle.standardOutput.putWhole(bytes, what: what) }
}
