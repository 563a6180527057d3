import Crypto

/// The id of an event: the SHA-256 of its canonical bytes. A session's id is the id of the
/// event that created it.
public struct EventID: Hashable, Comparable, Sendable, CustomStringConvertible {
    /// The 32 bytes as four big-endian words, held inline: a large session's fold looks ids up
    /// and compares them hundreds of thousands of times, and words compare as the bytes do.
    private let words: (UInt64, UInt64, UInt64, UInt64)

    public var bytes: [UInt8] {
        var out: [UInt8] = []
        out.reserveCapacity(32)
        for word in [words.0, words.1, words.2, words.3] {
            for shift in stride(from: 56, through: 0, by: -8) { out.append(UInt8(truncatingIfNeeded: word >> UInt64(shift))) }
        }
        return out
    }

    /// Calls `body` with the 32 bytes in place, without making an array of them.
    func withBytes<R>(_ body: (UnsafeRawBufferPointer) throws -> R) rethrows -> R {
        var bigEndian = (words.0.bigEndian, words.1.bigEndian, words.2.bigEndian, words.3.bigEndian)
        return try withUnsafeBytes(of: &bigEndian) { try body($0) }
    }

    public init?(bytes: some Collection<UInt8>) {
        guard bytes.count == 32 else { return nil }
        var w: (UInt64, UInt64, UInt64, UInt64) = (0, 0, 0, 0)
        for (i, byte) in bytes.enumerated() {
            switch i / 8 {
            case 0: w.0 = w.0 << 8 | UInt64(byte)
            case 1: w.1 = w.1 << 8 | UInt64(byte)
            case 2: w.2 = w.2 << 8 | UInt64(byte)
            default: w.3 = w.3 << 8 | UInt64(byte)
            }
        }
        self.words = w
    }

    public init?(hex: some StringProtocol) {
        guard hex.utf8.count == 64 else { return nil }
        // A string's own bytes where it has them (every id read from an event), one at a time
        // through the generic view otherwise.
        guard let id = hex.utf8.withContiguousStorageIfAvailable(EventID.init(hexDigits:)) ?? EventID(hexDigits: Array(hex.utf8)) else {
            return nil
        }
        self = id
    }

    /// The id of 64 lowercase hex digits.
    private init?(hexDigits: some RandomAccessCollection<UInt8>) {
        var w: (UInt64, UInt64, UInt64, UInt64) = (0, 0, 0, 0)
        for (i, c) in zip(0..<64, hexDigits) {
            // Upper case is refused: one spelling per id.
            guard let digit = JSONParser.hexDigit(c) else { return nil }
            let nibble = UInt64(digit)
            switch i / 16 {
            case 0: w.0 = w.0 << 4 | nibble
            case 1: w.1 = w.1 << 4 | nibble
            case 2: w.2 = w.2 << 4 | nibble
            default: w.3 = w.3 << 4 | nibble
            }
        }
        self.words = w
    }

    /// The hash of `data`.
    public static func of(_ data: [UInt8]) -> EventID {
        SHA256.hash(data: data).withUnsafeBytes { EventID(bytes: $0)! }
    }

    public var hex: String {
        let digits = Array("0123456789abcdef".utf8)
        var out: [UInt8] = []
        out.reserveCapacity(64)
        for b in bytes {
            out.append(digits[Int(b >> 4)])
            out.append(digits[Int(b & 0xF)])
        }
        return String(decoding: out, as: UTF8.self)
    }

    /// The first 12 hex digits: what people see and type.
    public var short: String { String(hex.prefix(12)) }
    public var description: String { hex }

    public static func < (a: EventID, b: EventID) -> Bool { a.words < b.words }

    public static func == (a: EventID, b: EventID) -> Bool { a.words == b.words }

    public func hash(into hasher: inout Hasher) {
        hasher.combine(words.0)
        hasher.combine(words.1)
        hasher.combine(words.2)
        hasher.combine(words.3)
    }
}
