import ArgumentParser
import Foundation
import Meeting

/// Where a passphrase comes from: a file (or standard input, `-`) for scripts, otherwise the
/// terminal, typed without echo. Never a command-line argument, which other users of the
/// machine can read in the process list.
struct PassphraseOptions: ParsableArguments {
    @Option(
        help: ArgumentHelp(
            "Read the passphrase from the first line of this file (- for standard input) instead of asking.", valueName: "FILE"))
    var passphraseFile: String?

    /// The passphrase; `confirm` asks twice on a terminal (when choosing one).
    func read(purpose: String, confirm: Bool) throws(MeetingError) -> String {
        if let passphraseFile {
            let data =
                passphraseFile == "-"
                ? FileHandle.standardInput.readDataToEndOfFile() : FileManager.default.contents(atPath: passphraseFile)
            guard let data, let text = String(data: data, encoding: .utf8) else {
                throw MeetingError(
                    .storage, "Cannot read a passphrase from \(passphraseFile). Check the path, and that it holds UTF-8 text.")
            }
            return String(text.split(separator: "\n", maxSplits: 1, omittingEmptySubsequences: false).first ?? "")
                .trimmingCharacters(in: CharacterSet(charactersIn: "\r"))
        }
        let first = try ask("Passphrase \(purpose): ")
        if confirm, try ask("The same passphrase again: ") != first {
            throw MeetingError(.wrongPassphrase, "The two passphrases differ. Nothing was written; run the command again.")
        }
        return first
    }

    /// Reads one line from the terminal with echo off.
    private func ask(_ prompt: String) throws(MeetingError) -> String {
        let tty = open("/dev/tty", O_RDWR)
        guard tty >= 0 else {
            throw MeetingError(
                .storage, "There is no terminal to ask for the passphrase. Give it with --passphrase-file FILE (- reads standard input).")
        }
        defer { close(tty) }
        // Echo goes off before the prompt shows, so nothing typed after it is lost or shown.
        var saved = termios()
        tcgetattr(tty, &saved)
        var quiet = saved
        quiet.c_lflag &= ~tcflag_t(ECHO)
        tcsetattr(tty, TCSAFLUSH, &quiet)
        defer {
            tcsetattr(tty, TCSANOW, &saved)
            _ = write(tty, "\n", 1)
        }
        _ = prompt.withCString { write(tty, $0, strlen($0)) }
        var line: [UInt8] = []
        var byte: UInt8 = 0
        while Foundation.read(tty, &byte, 1) == 1, byte != 0x0A { line.append(byte) }
        return String(decoding: line, as: UTF8.self)
    }
}
