import Foundation
import Hummingbird
import Meeting

/// A request body the API takes (docs/openapi.yaml): a JSON object with its own fields and no
/// other, read strictly, so that a misspelt field is an error that names the fields the
/// endpoint takes rather than a value silently ignored.
///
/// ```swift
/// struct Reveal: APIRequest {
///     static let fields = ["prompt"]
///     let prompt: PromptNumber
///     init(_ body: RequestFields) throws(APIError) { prompt = try body.require("prompt") }
/// }
/// let body = try await request.decode(Reveal.self)
/// ```
protocol APIRequest: Sendable {
    /// The fields it takes; any other is refused.
    static var fields: [String] { get }
    init(_ body: RequestFields) throws(APIError)
}

extension Request {
    /// The largest body any endpoint takes (``ServingMiddleware`` refuses larger ones first).
    static let bodyLimit = 16 * 1024

    /// Reads the body as `T`: valid UTF-8, a JSON object, only `T`'s fields, each of its type.
    func decode<T: APIRequest>(_ type: T.Type) async throws -> T {
        // ServingMiddleware has already read the body, within the size limit and the deadline.
        try Request.decode(T.self, from: try await body.collect(upTo: Request.bodyLimit).readableBytesView)
    }

    /// Reads `bytes` as `T`, as ``decode(_:)`` reads a body (a sealed request's too).
    static func decode<T: APIRequest>(_ type: T.Type, from bytes: some Collection<UInt8>) throws(APIError) -> T {
        guard String(validating: bytes, as: UTF8.self) != nil else { throw APIError.invalidUTF8 }
        guard let json = JSONValue(json: bytes) else { throw APIError.invalidJSON }
        return try decode(T.self, from: json)
    }

    /// Reads a JSON value already parsed (a sealed request's inner body) as `T`.
    static func decode<T: APIRequest>(_ type: T.Type, from json: JSONValue) throws(APIError) -> T {
        guard case .object(let fields) = json else { throw APIError.invalidJSON }
        return try T(try RequestFields(fields, taking: T.fields))
    }
}

/// The fields of a request body: only those its type takes, none of them null (a field given
/// as null is a mistake, not a field left out; docs/openapi.yaml types each).
struct RequestFields {
    private let fields: [String: JSONValue]

    init(_ fields: [String: JSONValue], taking allowed: [String]) throws(APIError) {
        let allowed = allowed.sorted()
        if let unknown = fields.keys.sorted().first(where: { !allowed.contains($0) }) {
            throw APIError(
                .badRequest, "unknown-field", "Unknown field \"\(unknown)\". This endpoint takes: \(allowed.joined(separator: ", ")).")
        }
        if let null = fields.keys.sorted().first(where: { fields[$0] == .null }) {
            throw APIError(.badRequest, "wrong-type", "The field \"\(null)\" is null. Give it a value, or leave it out if it is optional.")
        }
        self.fields = fields
    }

    func require<V: RequestValue>(_ key: String) throws(APIError) -> V {
        guard let value: V = try optional(key) else { throw APIError(.badRequest, "missing-field", "The field \"\(key)\" is missing.") }
        return value
    }

    func optional<V: RequestValue>(_ key: String) throws(APIError) -> V? {
        guard let json = fields[key] else { return nil }
        guard let value = V(json: json) else { throw APIError(.badRequest, "wrong-type", "The field \"\(key)\" \(V.expected).") }
        return value
    }

    /// Any JSON value (a sealed request's inner body, read as its operation says).
    func optionalJSON(_ key: String) -> JSONValue? { fields[key] }
}

/// A value a request field holds, read from JSON; `expected` says what it must be.
protocol RequestValue: Sendable {
    init?(json: JSONValue)
    static var expected: String { get }
}

extension String: RequestValue {
    init?(json: JSONValue) {
        guard case .string(let text) = json else { return nil }
        self = text
    }
    static var expected: String { "must be a string" }
}

/// A whole number from 0 below a bound, in a request: a prompt's number, a picture's.
protocol RequestIndex: RequestValue {
    static var bound: Int64 { get }
    init(value: Int)
}

extension RequestIndex {
    init?(json: JSONValue) {
        guard case .integer(let value) = json, (0..<Self.bound).contains(value) else { return nil }
        self.init(value: Int(value))
    }
}

/// A prompt's number (from 0) in a request.
struct PromptNumber: RequestIndex {
    let value: Int
    static let bound: Int64 = 100_000
    static var expected: String { "must be a whole number from 0." }
}

/// A check-in option's number (from 0) in a request.
struct OptionNumber: RequestIndex {
    let value: Int
    static let bound: Int64 = 10
    static var expected: String { "must be the number of one of the check-in's pictures, from 0." }
}

/// What a page drew for one reflection or tap, so that sending it again (after no answer, to
/// this laptop or another of the session) is taken once: 16 random bytes in base64url.
struct Once: RequestValue {
    let bytes: [UInt8]

    init?(json: JSONValue) {
        guard case .string(let text) = json, text.utf8.count == 22, let bytes = Base64URL.decode(text), bytes.count == 16 else {
            return nil
        }
        self.bytes = bytes
    }
    static var expected: String { "must be 16 random bytes in base64url (22 characters)." }
}

/// A reflection's id in a request: 64 hex digits.
struct ReflectionID: RequestValue {
    let value: EventID

    init?(json: JSONValue) {
        guard case .string(let text) = json, let id = EventID(hex: text) else { return nil }
        value = id
    }
    static var expected: String { "must be a reflection id (64 hex digits)." }
}

/// The request bodies of the API, one per endpoint that takes one.
enum Body {
    struct Join: APIRequest {
        static let fields = ["code"]
        let code: String
        init(_ body: RequestFields) throws(APIError) {
            code = try body.require("code")
        }
    }

    struct Reflection: APIRequest {
        static let fields = ["prompt", "text", "once"]
        let prompt: PromptNumber
        let text: String
        let once: Once?
        init(_ body: RequestFields) throws(APIError) {
            prompt = try body.require("prompt")
            text = try body.require("text")
            once = try body.optional("once")
        }
    }

    /// A check-in's answer: one of its pictures, by number from 0 in the scale's order.
    struct Answer: APIRequest {
        static let fields = ["prompt", "option", "once"]
        let prompt: PromptNumber
        let option: OptionNumber
        let once: Once?
        init(_ body: RequestFields) throws(APIError) {
            prompt = try body.require("prompt")
            option = try body.require("option")
            once = try body.optional("once")
        }
    }

    struct Resonance: APIRequest {
        static let fields = ["reflection", "once"]
        let reflection: ReflectionID
        let once: Once?
        init(_ body: RequestFields) throws(APIError) {
            reflection = try body.require("reflection")
            once = try body.optional("once")
        }
    }

    struct Prompt: APIRequest {
        static let fields = ["prompt"]
        let prompt: PromptNumber
        init(_ body: RequestFields) throws(APIError) {
            prompt = try body.require("prompt")
        }
    }

    struct Hide: APIRequest {
        static let fields = ["reflection", "reason"]
        let reflection: ReflectionID
        let reason: String
        init(_ body: RequestFields) throws(APIError) {
            reflection = try body.require("reflection")
            reason = try body.require("reason")
        }
    }

    struct Note: APIRequest {
        static let fields = ["text", "prompt"]
        let text: String
        let prompt: PromptNumber?
        init(_ body: RequestFields) throws(APIError) {
            text = try body.require("text")
            prompt = try body.optional("prompt")
        }
    }

    /// `{}`: an action that takes nothing.
    struct Nothing: APIRequest {
        static let fields: [String] = []
        init(_ body: RequestFields) throws(APIError) {}
    }

    struct Admit: APIRequest {
        static let fields = ["role", "node"]
        let role: String
        let node: String
        init(_ body: RequestFields) throws(APIError) {
            role = try body.require("role")
            node = try body.require("node")
        }

        /// The role, or a clear error.
        func checkedRole() throws -> Replica.Role {
            guard let role = Replica.Role(wireName: role) else {
                throw APIError(.badRequest, "bad-role", "The role must be \"co-facilitator\" or \"archivist\".")
            }
            return role
        }
    }

    struct TurnAway: APIRequest {
        static let fields = ["node"]
        let node: String
        init(_ body: RequestFields) throws(APIError) {
            node = try body.require("node")
        }
    }

    struct Wipe: APIRequest {
        static let fields = ["confirm"]
        let confirm: String
        init(_ body: RequestFields) throws(APIError) {
            confirm = try body.require("confirm")
        }
    }

    /// The archive's retention: keep sessions `keepDays` days (0: keep everything); without
    /// `"confirm": "WIPE"` it only lists what would go.
    struct Retention: APIRequest {
        static let fields = ["keepDays", "confirm", "before", "count"]
        let keepDays: DayCount
        let confirm: String?
        /// The preview's cutoff, so that a confirmation wipes exactly what was listed.
        let before: Milliseconds?
        /// How many sessions the preview listed.
        let count: SessionCount?
        init(_ body: RequestFields) throws(APIError) {
            keepDays = try body.require("keepDays")
            confirm = try body.optional("confirm")
            before = try body.optional("before")
            count = try body.optional("count")
        }
    }
}

/// A number of days in a request (0 to 100 years).
struct DayCount: RequestIndex {
    let value: Int
    static let bound = Int64(Limits.keepDays) + 1
    static var expected: String { "must be a whole number of days, from 0 (keep everything) to 36600." }
}

/// A time in milliseconds since 1970, in a request.
struct Milliseconds: RequestValue {
    let value: Int64
    init?(json: JSONValue) {
        // Up to the last moment of year 9999.
        guard case .integer(let value) = json, (0...253_402_300_799_999).contains(value) else { return nil }
        self.value = value
    }
    static var expected: String { "must be a time in milliseconds since 1970, as the preview gave it." }
}

/// A number of sessions in a request.
struct SessionCount: RequestIndex {
    let value: Int
    static let bound: Int64 = 100_000_000
    static var expected: String { "must be the number of sessions the preview listed." }
}
