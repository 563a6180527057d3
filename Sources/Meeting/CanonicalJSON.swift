import Foundation

/// A JSON value with exactly one byte form, so that an event's id (the hash of its bytes)
/// is the same on every node whatever library wrote it.
///
/// The canonical form: no white space; object keys sorted by their UTF-8 bytes; integers
/// only, in decimal; strings as raw UTF-8 with only `"`, `\` and control characters
/// escaped (`\n`, `\t`, else `\u00xx`). Documented in `docs/storage.md`.
// Not `indirect`: arrays and objects already hold their items out of line, so each value
// needs no box of its own (an event is about fifteen values, and a year's import decodes
// 1.4 million events).
public enum JSONValue: Hashable, Sendable {
    case string(String)
    case integer(Int64)
    case bool(Bool)
    case array([JSONValue])
    case object([String: JSONValue])
    case null

    /// The canonical bytes of this value.
    public var canonicalBytes: [UInt8] {
        var out: [UInt8] = []
        write(into: &out)
        return out
    }

    func write(into out: inout [UInt8]) {
        switch self {
        case .null: out.append(contentsOf: "null".utf8)
        case .bool(let b): out.append(contentsOf: (b ? "true" : "false").utf8)
        case .integer(let i): out.append(contentsOf: String(i).utf8)
        case .string(let s): JSONValue.writeString(s, into: &out)
        case .array(let items):
            out.append(UInt8(ascii: "["))
            for (i, item) in items.enumerated() {
                if i > 0 { out.append(UInt8(ascii: ",")) }
                item.write(into: &out)
            }
            out.append(UInt8(ascii: "]"))
        case .object(let fields):
            out.append(UInt8(ascii: "{"))
            let keys = fields.keys.sorted { $0.utf8.lexicographicallyPrecedes($1.utf8) }
            for (i, key) in keys.enumerated() {
                if i > 0 { out.append(UInt8(ascii: ",")) }
                JSONValue.writeString(key, into: &out)
                out.append(UInt8(ascii: ":"))
                fields[key]!.write(into: &out)
            }
            out.append(UInt8(ascii: "}"))
        }
    }

    private static let hexDigits: [UInt8] = Array("0123456789abcdef".utf8)

    static func writeString(_ s: String, into out: inout [UInt8]) {
        out.append(UInt8(ascii: "\""))
        // Most strings need no escape: copied whole.
        if !s.utf8.contains(where: { $0 < 0x20 || $0 == UInt8(ascii: "\"") || $0 == UInt8(ascii: "\\") }) {
            out.append(contentsOf: s.utf8)
            out.append(UInt8(ascii: "\""))
            return
        }
        for byte in s.utf8 {
            switch byte {
            case UInt8(ascii: "\""): out += [UInt8(ascii: "\\"), UInt8(ascii: "\"")]
            case UInt8(ascii: "\\"): out += [UInt8(ascii: "\\"), UInt8(ascii: "\\")]
            case 0x0A: out += [UInt8(ascii: "\\"), UInt8(ascii: "n")]
            case 0x09: out += [UInt8(ascii: "\\"), UInt8(ascii: "t")]
            case 0x00..<0x20:
                out += [
                    UInt8(ascii: "\\"), UInt8(ascii: "u"), UInt8(ascii: "0"), UInt8(ascii: "0"), hexDigits[Int(byte >> 4)],
                    hexDigits[Int(byte & 0xF)],
                ]
            default: out.append(byte)
            }
        }
        out.append(UInt8(ascii: "\""))
    }

    /// Parses JSON text that must already be in canonical form: anything else (white space,
    /// unsorted or repeated keys, other escapes, fractions, invalid UTF-8, nesting deeper
    /// than ``CanonicalParser/maxDepth``) is refused. One pass over the bytes, no copy of them.
    public init(canonical bytes: [UInt8]) throws(MeetingError) {
        var members: [JSONParser.Member]? = nil
        self = try JSONValue.parseCanonical(bytes, members: &members)
    }

    /// Parses canonical JSON (``init(canonical:)``); if `members` is not nil and the value is an
    /// object, fills it with where each of its own members lies in `bytes`.
    static func parseCanonical(_ bytes: [UInt8], members: inout [JSONParser.Member]?) throws(MeetingError) -> JSONValue {
        let parsed = bytes.withUnsafeBufferPointer { buffer in
            var parser = JSONParser(bytes: buffer, recording: members != nil)
            return (parser.document(), parser.members)
        }
        guard let value = parsed.0 else {
            throw MeetingError(.invalidEvent, "The event is not JSON in canonical form, so its id cannot be trusted.")
        }
        if members != nil { members = parsed.1 }
        return value
    }

    /// Parses JSON as API requests and pages send it: any RFC 8259 text whose numbers are
    /// whole (`46.0` too, as JSON Schema's "integer") and whose objects repeat no key (``JSONParser``); nil for anything else.
    public init?(json bytes: some Collection<UInt8>) {
        func parse(_ buffer: UnsafeBufferPointer<UInt8>) -> JSONValue? {
            var parser = JSONParser(bytes: buffer, canonical: false)
            return parser.document()
        }
        guard let value = bytes.withContiguousStorageIfAvailable(parse) ?? Array(bytes).withUnsafeBufferPointer(parse) else { return nil }
        self = value
    }

    /// The same as ``init(canonical:)`` the slow way, through Foundation's parser and a
    /// comparison with the value written back: the fuzzer holds the fast parser to it.
    init(referenceCanonical bytes: [UInt8]) throws(MeetingError) {
        let value: JSONValue
        do {
            value = try JSONDecoder().decode(JSONValue.self, from: Data(bytes))
        } catch {
            throw MeetingError(.invalidEvent, "The event is not valid JSON.")
        }
        guard value.canonicalBytes == bytes else {
            throw MeetingError(.invalidEvent, "The event is not in canonical form, so its id cannot be trusted.")
        }
        self = value
    }
}

/// A one-pass JSON parser. In canonical form (``JSONValue/init(canonical:)``) it accepts exactly
/// the bytes that some value writes as its ``JSONValue/canonicalBytes``, so that no second form
/// of an event (with another id) can exist. In plain form (``JSONValue/init(json:)``, what API
/// requests and pages send) it takes any RFC 8259 text whose numbers are whole: white space,
/// keys in any order, every escape; repeated keys are still refused.
struct JSONParser {
    /// Where one member of the outermost object lies: from its key's opening quote to the end of its value.
    struct Member {
        var key: String
        var range: Range<Int>
    }

    /// Deeper nesting is refused (an event's deepest value, a deck's prompt text, is 5 deep).
    static let maxDepth = 64

    let bytes: UnsafeBufferPointer<UInt8>
    let canonical: Bool
    let recording: Bool
    var index = 0
    var depth = 0
    var members: [Member] = []

    init(bytes: UnsafeBufferPointer<UInt8>, canonical: Bool = true, recording: Bool = false) {
        self.bytes = bytes
        self.canonical = canonical
        self.recording = recording
    }

    private var next: UInt8? { index < bytes.count ? bytes[index] : nil }

    /// One value, and (in plain form) the white space around it; nil unless the bytes hold exactly one.
    mutating func document() -> JSONValue? {
        skipSpace()
        let value = value()
        skipSpace()
        return index == bytes.count ? value : nil
    }

    /// White space between tokens, in plain form only.
    private mutating func skipSpace() {
        guard !canonical else { return }
        while let byte = next, JSONParser.isSpace(byte) { index += 1 }
    }

    /// JSON's white space: space, line feed, tab, carriage return.
    static func isSpace(_ byte: UInt8) -> Bool { byte == 0x20 || byte == 0x0A || byte == 0x09 || byte == 0x0D }

    mutating func value() -> JSONValue? {
        guard let byte = next else { return nil }
        switch byte {
        case UInt8(ascii: "{"): return object()
        case UInt8(ascii: "["): return array()
        case UInt8(ascii: "\""): return string().map(JSONValue.string)
        case UInt8(ascii: "t"): return literal("true", .bool(true))
        case UInt8(ascii: "f"): return literal("false", .bool(false))
        case UInt8(ascii: "n"): return literal("null", .null)
        case UInt8(ascii: "-"), UInt8(ascii: "0")...UInt8(ascii: "9"): return integer()
        default: return nil
        }
    }

    private mutating func literal(_ word: StaticString, _ value: JSONValue) -> JSONValue? {
        let count = word.utf8CodeUnitCount
        guard bytes.count - index >= count else { return nil }
        for k in 0..<count where bytes[index + k] != word.utf8Start[k] { return nil }
        index += count
        return value
    }

    /// `-?(0|[1-9][0-9]*)` within Int64, as `String(Int64)` writes it (canonical: no `-0`).
    /// Canonical: no fraction, no exponent. Plain: those too, if the value is whole (``wholeNumber(from:)``).
    private mutating func integer() -> JSONValue? {
        let negative = next == UInt8(ascii: "-")
        if negative { index += 1 }
        let start = index
        var value: Int64 = 0
        while let byte = next, byte >= UInt8(ascii: "0"), byte <= UInt8(ascii: "9") {
            let digit = Int64(byte - UInt8(ascii: "0"))
            // Accumulated negatively, so that Int64.min fits.
            let (times, o1) = value.multipliedReportingOverflow(by: 10)
            let (sum, o2) = times.subtractingReportingOverflow(digit)
            guard !o1, !o2 else { return nil }
            value = sum
            index += 1
        }
        let digits = index - start
        guard digits > 0, bytes[start] != UInt8(ascii: "0") || digits == 1, !(canonical && negative && value == 0) else { return nil }
        if !canonical, let byte = next, byte == UInt8(ascii: ".") || byte | 0x20 == UInt8(ascii: "e") {
            guard let whole = wholeNumber(from: start) else { return nil }
            return .integer(negative ? -whole : whole)
        }
        if negative { return .integer(value) }
        guard value != Int64.min else { return nil }
        return .integer(-value)
    }

    /// Plain form: a number with a fraction or an exponent (`46.0`, `1e2`), as JSON Schema's
    /// "integer" takes it: its value if that is whole, within 15 digits (exact as a double, so
    /// any reader agrees); nil otherwise. `start` is its first digit; `index` is past its integer part.
    private mutating func wholeNumber(from start: Int) -> Int64? {
        var digits = Array(bytes[start..<index])
        var exponent = 0
        if next == UInt8(ascii: ".") {
            index += 1
            let fraction = index
            while let byte = next, byte >= UInt8(ascii: "0"), byte <= UInt8(ascii: "9") { index += 1 }
            guard index > fraction else { return nil }
            digits += bytes[fraction..<index]
            exponent = fraction - index
        }
        if let byte = next, byte | 0x20 == UInt8(ascii: "e") {
            index += 1
            let negative = next == UInt8(ascii: "-")
            if next == UInt8(ascii: "-") || next == UInt8(ascii: "+") { index += 1 }
            let first = index
            var power = 0
            while let byte = next, byte >= UInt8(ascii: "0"), byte <= UInt8(ascii: "9") {
                power = min(power * 10 + Int(byte - UInt8(ascii: "0")), 10_000)
                index += 1
            }
            guard index > first else { return nil }
            exponent += negative ? -power : power
        }
        // Trailing zeros move into the exponent, leading ones go: what is left must be whole and short.
        while let last = digits.last, last == UInt8(ascii: "0"), digits.count > 1 {
            digits.removeLast()
            exponent += 1
        }
        while digits.count > 1, digits[0] == UInt8(ascii: "0") { digits.removeFirst() }
        if digits == [UInt8(ascii: "0")] { return 0 }
        guard exponent >= 0, digits.count + exponent <= 15 else { return nil }
        return digits.reduce(Int64(0)) { $0 * 10 + Int64($1 - UInt8(ascii: "0")) } * Int64(pow(10, Double(exponent)))
    }

    /// A string. Canonical: as ``JSONValue/writeString(_:into:)`` writes it, raw UTF-8 with only
    /// `\"`, `\\`, `\n`, `\t` and `\u00xx` (lowercase, for the other control characters) escaped.
    /// Plain: any escape RFC 8259 allows, surrogate pairs joined, lone surrogates refused.
    mutating func string() -> String? {
        index += 1
        let start = index
        // The common case: nothing escaped, so the string is a slice of the bytes.
        while let byte = next, byte != UInt8(ascii: "\""), byte != UInt8(ascii: "\\") {
            guard byte >= 0x20 else { return nil }
            index += 1
        }
        guard let stop = next else { return nil }
        if stop == UInt8(ascii: "\"") {
            let s = JSONParser.validUTF8(UnsafeBufferPointer(rebasing: bytes[start..<index]))
            index += 1
            return s
        }
        var out = Array(bytes[start..<index])
        while let byte = next {
            index += 1
            switch byte {
            case UInt8(ascii: "\""):
                return out.withUnsafeBufferPointer(JSONParser.validUTF8)
            case UInt8(ascii: "\\"):
                guard let escaped = next else { return nil }
                index += 1
                switch escaped {
                case UInt8(ascii: "\""), UInt8(ascii: "\\"): out.append(escaped)
                case UInt8(ascii: "n"): out.append(0x0A)
                case UInt8(ascii: "t"): out.append(0x09)
                case UInt8(ascii: "u") where canonical:
                    guard bytes.count - index >= 4, bytes[index] == UInt8(ascii: "0"), bytes[index + 1] == UInt8(ascii: "0"),
                        let high = JSONParser.hexDigit(bytes[index + 2]), high < 2,
                        let low = JSONParser.hexDigit(bytes[index + 3])
                    else { return nil }
                    let code = high << 4 | low
                    guard code != 0x0A, code != 0x09 else { return nil }
                    out.append(code)
                    index += 4
                case UInt8(ascii: "u"):
                    guard let scalar = unicodeEscape() else { return nil }
                    out += Array(String(scalar).utf8)
                case UInt8(ascii: "/") where !canonical: out.append(escaped)
                case UInt8(ascii: "b") where !canonical: out.append(0x08)
                case UInt8(ascii: "f") where !canonical: out.append(0x0C)
                case UInt8(ascii: "r") where !canonical: out.append(0x0D)
                default: return nil
                }
            case 0x00..<0x20: return nil
            default: out.append(byte)
            }
        }
        return nil
    }

    /// The string these bytes spell, nil unless they are valid UTF-8. Decoding repairs what is
    /// not (each bad byte becomes U+FFFD), so a string whose bytes are not the same ones was not
    /// valid: one pass and a comparison of the two buffers, without the generic
    /// `String(validating:)` (or `elementsEqual`, which goes a code unit at a time).
    static func validUTF8(_ bytes: UnsafeBufferPointer<UInt8>) -> String? {
        var s = String(decoding: bytes, as: UTF8.self)
        let same = s.withUTF8 { decoded in
            decoded.count == bytes.count && (bytes.isEmpty || memcmp(decoded.baseAddress!, bytes.baseAddress!, bytes.count) == 0)
        }
        return same ? s : nil
    }

    /// Plain form: the scalar of `\uXXXX` (after the `u`), or of a surrogate pair `\uD8xx\uDCxx`.
    private mutating func unicodeEscape() -> Unicode.Scalar? {
        guard let first = hexQuad() else { return nil }
        switch first {
        case 0xD800...0xDBFF:
            guard bytes.count - index >= 2, bytes[index] == UInt8(ascii: "\\"), bytes[index + 1] == UInt8(ascii: "u") else { return nil }
            index += 2
            guard let second = hexQuad(), (0xDC00...0xDFFF).contains(second) else { return nil }
            return Unicode.Scalar(0x10000 + ((first - 0xD800) << 10) + (second - 0xDC00))
        case 0xDC00...0xDFFF: return nil
        default: return Unicode.Scalar(first)
        }
    }

    /// Four hex digits, either case.
    private mutating func hexQuad() -> UInt32? {
        guard bytes.count - index >= 4 else { return nil }
        var value: UInt32 = 0
        for k in 0..<4 {
            let byte = bytes[index + k]
            guard let digit = JSONParser.hexDigit(byte >= UInt8(ascii: "A") ? byte | 0x20 : byte) else { return nil }
            value = value << 4 | UInt32(digit)
        }
        index += 4
        return value
    }

    /// A lowercase hex digit's value (canonical escapes are written in lowercase).
    /// A lower-case hex digit's value (the one spelling `\u00xx` escapes and event ids take).
    static func hexDigit(_ byte: UInt8) -> UInt8? {
        switch byte {
        case UInt8(ascii: "0")...UInt8(ascii: "9"): byte - UInt8(ascii: "0")
        case UInt8(ascii: "a")...UInt8(ascii: "f"): byte - UInt8(ascii: "a") + 10
        default: nil
        }
    }

    private mutating func array() -> JSONValue? {
        guard depth < JSONParser.maxDepth else { return nil }
        depth += 1
        defer { depth -= 1 }
        index += 1
        skipSpace()
        var items: [JSONValue] = []
        if next == UInt8(ascii: "]") {
            index += 1
            return .array(items)
        }
        while true {
            skipSpace()
            guard let item = value() else { return nil }
            items.append(item)
            skipSpace()
            switch next {
            case UInt8(ascii: ","): index += 1
            case UInt8(ascii: "]"):
                index += 1
                return .array(items)
            default: return nil
            }
        }
    }

    /// Canonical: keys in strictly increasing order of their UTF-8 bytes. Both forms: two keys
    /// that Swift holds equal (canonically equivalent Unicode) are refused, as a dictionary
    /// cannot keep both.
    private mutating func object() -> JSONValue? {
        guard depth < JSONParser.maxDepth else { return nil }
        depth += 1
        defer { depth -= 1 }
        let outermost = recording && depth == 1
        index += 1
        skipSpace()
        var fields = [String: JSONValue](minimumCapacity: 8)
        if next == UInt8(ascii: "}") {
            index += 1
            return .object(fields)
        }
        var previous: String?
        while true {
            skipSpace()
            let start = index
            guard next == UInt8(ascii: "\""), let key = string() else { return nil }
            skipSpace()
            guard next == UInt8(ascii: ":") else { return nil }
            if canonical, let previous, !previous.utf8.lexicographicallyPrecedes(key.utf8) { return nil }
            index += 1
            skipSpace()
            guard let item = value(), fields.updateValue(item, forKey: key) == nil else { return nil }
            if outermost { members.append(Member(key: key, range: start..<index)) }
            previous = key
            skipSpace()
            switch next {
            case UInt8(ascii: ","): index += 1
            case UInt8(ascii: "}"):
                index += 1
                return .object(fields)
            default: return nil
            }
        }
    }
}

extension JSONValue: Codable {
    public init(from decoder: any Decoder) throws {
        let c = try decoder.singleValueContainer()
        if c.decodeNil() {
            self = .null
        } else if let b = try? c.decode(Bool.self) {
            self = .bool(b)
        } else if let i = try? c.decode(Int64.self) {
            self = .integer(i)
        } else if let s = try? c.decode(String.self) {
            self = .string(s)
        } else if let a = try? c.decode([JSONValue].self) {
            self = .array(a)
        } else if let o = try? c.decode([String: JSONValue].self) {
            self = .object(o)
        } else {
            throw DecodingError.dataCorruptedError(
                in: c, debugDescription: "Only integers, strings, booleans, arrays and objects are allowed.")
        }
    }

    public func encode(to encoder: any Encoder) throws {
        var c = encoder.singleValueContainer()
        switch self {
        case .null: try c.encodeNil()
        case .bool(let b): try c.encode(b)
        case .integer(let i): try c.encode(i)
        case .string(let s): try c.encode(s)
        case .array(let a): try c.encode(a)
        case .object(let o): try c.encode(o)
        }
    }
}

/// Reads the fields of a JSON object strictly: wrong types and unknown keys are errors.
struct FieldReader {
    private let fields: [String: JSONValue]
    /// The keys read so far (an event's are few), and how many of them the object has.
    private var used: [String] = []
    private var found = 0
    let context: String

    init(_ value: JSONValue, context: String) throws(MeetingError) {
        guard case .object(let fields) = value else {
            throw MeetingError(.invalidEvent, "\(context) must be a JSON object.")
        }
        self.fields = fields
        self.context = context
        used.reserveCapacity(fields.count)
    }

    mutating func optional(_ key: String) -> JSONValue? {
        let value = fields[key]
        if !used.contains(key) {
            used.append(key)
            if value != nil { found += 1 }
        }
        return value
    }

    mutating func require(_ key: String) throws(MeetingError) -> JSONValue {
        guard let value = optional(key) else { throw wrong(key, "is missing") }
        return value
    }

    mutating func string(_ key: String) throws(MeetingError) -> String {
        guard case .string(let s) = try require(key) else { throw wrong(key, "must be a string") }
        return s
    }

    mutating func optionalString(_ key: String) throws(MeetingError) -> String? {
        guard let value = optional(key) else { return nil }
        guard case .string(let s) = value else { throw wrong(key, "must be a string") }
        return s
    }

    mutating func int(_ key: String, in range: ClosedRange<Int64> = 0...Int64(Int32.max)) throws(MeetingError) -> Int {
        guard case .integer(let i) = try require(key), range.contains(i) else { throw wrong(key, "must be an integer in \(range)") }
        return Int(i)
    }

    mutating func optionalInt(_ key: String, in range: ClosedRange<Int64> = 0...Int64(Int32.max)) throws(MeetingError) -> Int? {
        guard optional(key) != nil else { return nil }
        return try int(key, in: range)
    }

    /// Bytes in standard base64, in its one spelling (the padding it needs, no stray bits):
    /// a second spelling of an event's signature would give the same event another id.
    mutating func bytes(_ key: String, count: Int) throws(MeetingError) -> [UInt8] {
        guard let bytes = Base64Spelling.decode(try string(key)), bytes.count == count else {
            throw wrong(key, "must be \(count) bytes in base64")
        }
        return bytes
    }

    mutating func id(_ key: String) throws(MeetingError) -> EventID {
        guard let id = EventID(hex: try string(key)) else { throw wrong(key, "must be an event id (64 hex digits)") }
        return id
    }

    mutating func array(_ key: String) throws(MeetingError) -> [JSONValue] {
        guard case .array(let items) = try require(key) else { throw wrong(key, "must be an array") }
        return items
    }

    func finish() throws(MeetingError) {
        guard found < fields.count else { return }
        if let extra = fields.keys.sorted().first(where: { !used.contains($0) }) {
            throw MeetingError(.invalidEvent, "\(context) has an unknown field \"\(extra)\".")
        }
    }

    func wrong(_ key: String, _ problem: String) -> MeetingError {
        MeetingError(.invalidEvent, "\(context): \"\(key)\" \(problem).")
    }
}

/// Standard base64 has one spelling of given bytes, with the padding they need and zero
/// bits after the last byte; a decoder also takes others (stray bits set), which would give
/// an event a second set of bytes and so a second id.
enum Base64Spelling {
    /// Whether `text` is the one spelling of `count` bytes: whole quads of the standard
    /// alphabet, the `=` padding they need and no other, and the bits of its last letter past
    /// the bytes zero. (The decoder is asked for the bytes; this asks nothing of it.)
    static func isCanonical(_ text: String.UTF8View, of count: Int) -> Bool {
        let letters = Array(text)
        let padding = (3 - count % 3) % 3
        guard letters.count == (count + 2) / 3 * 4 else { return false }
        let body = letters.count - padding
        guard letters[body...].allSatisfy({ $0 == UInt8(ascii: "=") }), letters[..<body].allSatisfy({ sextet($0) != nil }) else {
            return false
        }
        // 1 byte in the last quad: its 2nd letter carries 4 unused bits; 2 bytes: the 3rd, 2.
        let unused: UInt8 = padding == 2 ? 0x0F : padding == 1 ? 0x03 : 0
        return unused == 0 || sextet(letters[body - 1])! & unused == 0
    }

    /// The bytes `text` spells, nil unless it is their one spelling (``isCanonical(_:of:)``):
    /// one pass over the letters, where decoding with Foundation and then checking the
    /// spelling took three (a year's import reads a million events' base64).
    static func decode(_ text: String) -> [UInt8]? {
        var text = text
        return text.withUTF8 { decode($0) }
    }

    /// The same, of letters in a buffer (a transcript file's, ``TranscriptFile``).
    static func decode(_ letters: UnsafeBufferPointer<UInt8>) -> [UInt8]? {
        let n = letters.count
        guard n % 4 == 0 else { return nil }
        guard n > 0 else { return [] }
        let padding = letters[n - 1] != UInt8(ascii: "=") ? 0 : letters[n - 2] != UInt8(ascii: "=") ? 1 : 2
        let count = n / 4 * 3 - padding
        var valid = true
        let bytes = [UInt8](unsafeUninitializedCapacity: count) { out, initialized in
            var i = 0
            var o = 0
            while i < n {
                let a = sextets[Int(letters[i])]
                let b = sextets[Int(letters[i + 1])]
                // The last quad's padded letters stand for nothing.
                let last = i + 4 == n
                let c = last && padding == 2 ? 0 : sextets[Int(letters[i + 2])]
                let d = last && padding >= 1 ? 0 : sextets[Int(letters[i + 3])]
                guard (a | b | c | d) & 0x40 == 0 else {
                    valid = false
                    break
                }
                let word = UInt32(a) << 18 | UInt32(b) << 12 | UInt32(c) << 6 | UInt32(d)
                out[o] = UInt8(truncatingIfNeeded: word >> 16)
                if o + 1 < count { out[o + 1] = UInt8(truncatingIfNeeded: word >> 8) }
                if o + 2 < count { out[o + 2] = UInt8(truncatingIfNeeded: word) }
                // Past the bytes, the last letter's bits must be zero (4 of them for 1 byte, 2 for 2).
                if last, padding > 0, word & (padding == 2 ? 0xFFFF : 0xFF) != 0 {
                    valid = false
                    break
                }
                i += 4
                o += 3
            }
            // Bytes are plain integers: what was written needs no clean-up if refused.
            initialized = valid ? count : 0
        }
        return valid ? bytes : nil
    }

    /// Each byte's sextet in the standard alphabet; 0x40 for any other byte.
    static let sextets: [UInt8] = (0...255).map { sextet(UInt8($0)) ?? 0x40 }

    /// The 6 bits a letter of the standard alphabet stands for.
    static func sextet(_ letter: UInt8) -> UInt8? {
        switch letter {
        case UInt8(ascii: "A")...UInt8(ascii: "Z"): letter - UInt8(ascii: "A")
        case UInt8(ascii: "a")...UInt8(ascii: "z"): letter - UInt8(ascii: "a") + 26
        case UInt8(ascii: "0")...UInt8(ascii: "9"): letter - UInt8(ascii: "0") + 52
        case UInt8(ascii: "+"): 62
        case UInt8(ascii: "/"): 63
        default: nil
        }
    }
}
