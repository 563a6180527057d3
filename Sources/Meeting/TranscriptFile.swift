import Foundation

/// A transcript file's bytes in two parts, found in one pass without decoding either: where
/// each event's base64 is, and the rest of the file with the events left out (`"events":[]`)
/// for Foundation's decoder. An export is mostly its events (a 100,000-event export: 64.5 MB,
/// of which 52 MB are their base64), which the decoder read on one core into strings that
/// were then thrown away: in a profile of its import (perf), one core idle for the first half
/// second. Their base64 is read from the bytes on every core instead, while the decoder reads
/// the readable part beside it, and both cores work from the start. Side by side from the
/// command line the whole import is about 2 % faster (median of 8 alternating runs: 4.67 s
/// against 4.78 s), within this machine's noise.
///
/// Only a file whose events are written as plain base64 letters is split (as
/// ``Transcript/json()`` writes them), so the readable part decodes to what the whole file
/// decodes to, its events aside (``DecoderProperties/transcript(_:)``, fuzzed). Anything else
/// (no events, the key twice, a key with escapes, an event's letters escaped as another JSON
/// writer may, bytes after the object) is not split: the whole file goes to the decoder as
/// before, which reads it or says what is wrong.
struct TranscriptFile {
    /// The file with its events' array emptied.
    let readable: Data
    /// Where each event's letters are in the file, in order; only those before the first too
    /// short to be an event, if there is one (``shortEvent``).
    let events: [Range<Int>]
    /// How many strings the events' array holds, all of them.
    let eventCount: Int
    /// The position (from 0) of the first event whose letters are fewer than any event's
    /// (``shortestEvent``), if any: such a file is refused without reading its events, so a
    /// file of millions of empty strings costs no more memory than its own size.
    let shortEvent: Int?

    /// Fewer base64 letters than any event has: its signature alone is 88.
    static let shortestEvent = 128

    /// Whether an event's base64 of `letters` letters is too short to be one.
    static func isShort(_ letters: Int) -> Bool { letters < shortestEvent }

    init?(_ data: Data) {
        guard let found = data.withUnsafeBytes({ TranscriptFile.scan($0.assumingMemoryBound(to: UInt8.self)) }) else {
            return nil
        }
        var readable = Data(capacity: data.count - found.array.count + 2)
        readable.append(data[data.startIndex..<(data.startIndex + found.array.lowerBound)])
        readable.append(contentsOf: [UInt8(ascii: "["), UInt8(ascii: "]")])
        readable.append(data[(data.startIndex + found.array.upperBound)...])
        self.readable = readable
        events = found.events
        eventCount = found.count
        shortEvent = found.short
    }

    /// What Foundation's decoder will hold for a JSON text, counted before it reads it (it
    /// makes something of every array, object and value of the whole text first: a file of 89
    /// million empty strings took more than 20 GB): its brackets and braces, and its commas and
    /// colons, outside strings, plus one.
    static func items(in data: Data) -> Int {
        data.withUnsafeBytes { raw in
            var count = 1
            var inString = false
            var escaped = false
            for byte in raw {
                if inString {
                    if escaped {
                        escaped = false
                    } else if byte == UInt8(ascii: "\\") {
                        escaped = true
                    } else if byte == UInt8(ascii: "\"") {
                        inString = false
                    }
                } else if byte == UInt8(ascii: "\"") {
                    inString = true
                } else if byte == UInt8(ascii: ",") || byte == UInt8(ascii: ":") || byte == UInt8(ascii: "[")
                    || byte == UInt8(ascii: "{")
                {
                    count += 1
                }
            }
            return count
        }
    }

    /// The events' array (its brackets included), each event's letters (up to the first too
    /// short), how many there are, and where the first too short is, in a top-level object
    /// where the key "events" appears once.
    private static func scan(_ bytes: UnsafeBufferPointer<UInt8>) -> (array: Range<Int>, events: [Range<Int>], count: Int, short: Int?)? {
        var scanner = Scanner(bytes: bytes)
        var found: (array: Range<Int>, events: [Range<Int>], count: Int, short: Int?)?
        scanner.skipSpace()
        guard scanner.take(UInt8(ascii: "{")) else { return nil }
        scanner.skipSpace()
        if !scanner.take(UInt8(ascii: "}")) {
            repeat {
                scanner.skipSpace()
                // A key spelled with escapes could be "events" to the decoder and not to this.
                guard let key = scanner.string(), !bytes[key].contains(UInt8(ascii: "\\")) else { return nil }
                scanner.skipSpace()
                guard scanner.take(UInt8(ascii: ":")) else { return nil }
                scanner.skipSpace()
                if bytes[key].elementsEqual("events".utf8) {
                    guard found == nil, let events = scanner.base64Array() else { return nil }
                    found = events
                } else {
                    guard scanner.skipValue() else { return nil }
                }
                scanner.skipSpace()
            } while scanner.take(UInt8(ascii: ","))
            guard scanner.take(UInt8(ascii: "}")) else { return nil }
        }
        scanner.skipSpace()
        guard scanner.index == bytes.count else { return nil }
        return found
    }

    /// Moves over JSON's structure only: strings, brackets and the bytes between them.
    private struct Scanner {
        let bytes: UnsafeBufferPointer<UInt8>
        var index = 0

        var next: UInt8? { index < bytes.count ? bytes[index] : nil }

        mutating func take(_ byte: UInt8) -> Bool {
            guard next == byte else { return false }
            index += 1
            return true
        }

        mutating func skipSpace() {
            while let byte = next, JSONParser.isSpace(byte) { index += 1 }
        }

        /// A string, its quotes taken: its contents (escapes left as they are).
        mutating func string() -> Range<Int>? {
            guard take(UInt8(ascii: "\"")) else { return nil }
            let start = index
            while let byte = next {
                if byte == UInt8(ascii: "\"") {
                    index += 1
                    return start..<(index - 1)
                }
                index += byte == UInt8(ascii: "\\") ? 2 : 1
            }
            return nil
        }

        /// Any value: a string, or brackets up to the one that closes the first, or a number or
        /// a word up to the next delimiter. Its validity is the decoder's to judge.
        mutating func skipValue() -> Bool {
            switch next {
            case UInt8(ascii: "\"")?: return string() != nil
            case UInt8(ascii: "{")?, UInt8(ascii: "[")?:
                var depth = 0
                while let byte = next {
                    switch byte {
                    case UInt8(ascii: "\""):
                        guard string() != nil else { return false }
                        continue
                    case UInt8(ascii: "{"), UInt8(ascii: "["): depth += 1
                    case UInt8(ascii: "}"), UInt8(ascii: "]"): depth -= 1
                    default: break
                    }
                    index += 1
                    if depth == 0 { return true }
                }
                return false
            case nil: return false
            default:
                let start = index
                while let byte = next, !(byte == UInt8(ascii: ",") || byte == UInt8(ascii: "}") || byte == UInt8(ascii: "]")),
                    !JSONParser.isSpace(byte)
                {
                    index += 1
                }
                return index > start
            }
        }

        /// An array of strings of base64 letters and padding only (so each is a JSON string
        /// that reads as exactly its bytes): the array's range and each string's letters.
        mutating func base64Array() -> (array: Range<Int>, events: [Range<Int>], count: Int, short: Int?)? {
            let start = index
            guard take(UInt8(ascii: "[")) else { return nil }
            var events: [Range<Int>] = []
            var count = 0
            var short: Int?
            skipSpace()
            if !take(UInt8(ascii: "]")) {
                repeat {
                    skipSpace()
                    guard take(UInt8(ascii: "\"")) else { return nil }
                    let letters = index
                    while let byte = next, Base64Spelling.sextets[Int(byte)] & 0x40 == 0 || byte == UInt8(ascii: "=") { index += 1 }
                    if short == nil {
                        if TranscriptFile.isShort(index - letters) { short = events.count } else { events.append(letters..<index) }
                    }
                    count += 1
                    guard take(UInt8(ascii: "\"")) else { return nil }
                    skipSpace()
                } while take(UInt8(ascii: ","))
                guard take(UInt8(ascii: "]")) else { return nil }
            }
            return (start..<index, events, count, short)
        }
    }
}
