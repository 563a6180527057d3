import Foundation

/// A JSON value with exactly one byte form, so that an event's id (the hash of its bytes)
/// is the same on every node whatever library wrote it.
///
/// The canonical form: no white space; object keys sorted by their UTF-8 bytes; integers
/// only, in decimal; strings as raw UTF-8 with only `"`, `\` and control characters
/// escaped (`\n`, `\t`, else `\u00xx`). Documented in `docs/storage.md`.
public indirect enum JSONValue: Hashable, Sendable {
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
        case .null: out += Array("null".utf8)
        case .bool(let b): out += Array((b ? "true" : "false").utf8)
        case .integer(let i): out += Array(String(i).utf8)
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

    static func writeString(_ s: String, into out: inout [UInt8]) {
        let hex = Array("0123456789abcdef".utf8)
        out.append(UInt8(ascii: "\""))
        for byte in s.utf8 {
            switch byte {
            case UInt8(ascii: "\""): out += [UInt8(ascii: "\\"), UInt8(ascii: "\"")]
            case UInt8(ascii: "\\"): out += [UInt8(ascii: "\\"), UInt8(ascii: "\\")]
            case 0x0A: out += [UInt8(ascii: "\\"), UInt8(ascii: "n")]
            case 0x09: out += [UInt8(ascii: "\\"), UInt8(ascii: "t")]
            case 0x00..<0x20:
                out += Array("\\u00".utf8) + [hex[Int(byte >> 4)], hex[Int(byte & 0xF)]]
            default: out.append(byte)
            }
        }
        out.append(UInt8(ascii: "\""))
    }

    /// Parses JSON text, then insists that it was already in canonical form.
    public init(canonical bytes: [UInt8]) throws(MeetingError) {
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
    private var used: Set<String> = []
    let context: String

    init(_ value: JSONValue, context: String) throws(MeetingError) {
        guard case .object(let fields) = value else {
            throw MeetingError(.invalidEvent, "\(context) must be a JSON object.")
        }
        self.fields = fields
        self.context = context
    }

    mutating func optional(_ key: String) -> JSONValue? {
        used.insert(key)
        return fields[key]
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

    mutating func bytes(_ key: String, count: Int) throws(MeetingError) -> [UInt8] {
        guard let data = Data(base64Encoded: try string(key)), data.count == count else {
            throw wrong(key, "must be \(count) bytes in base64")
        }
        return Array(data)
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
        if let extra = fields.keys.sorted().first(where: { !used.contains($0) }) {
            throw MeetingError(.invalidEvent, "\(context) has an unknown field \"\(extra)\".")
        }
    }

    func wrong(_ key: String, _ problem: String) -> MeetingError {
        MeetingError(.invalidEvent, "\(context): \"\(key)\" \(problem).")
    }
}
