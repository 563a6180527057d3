import Foundation

extension FileHandle {
    /// Writes a line for a person and moves on. Output that no one reads any more (a pipe whose
    /// reader ended, such as `| head` or a `less` that was quit) loses the line, never the
    /// program: Foundation's `write(_:)` stops the process on such a write, and a node would
    /// leave its meeting at its next line ("Linked with …").
    func put(_ text: Data) { try? write(contentsOf: text) }
}
