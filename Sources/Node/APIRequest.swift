import Foundation
import Hummingbird
import Meeting

/// A request body the API takes (docs/openapi.yaml): a JSON object with its own fields and no
/// other, decoded strictly, so that a misspelt field is an error that names the fields the
/// endpoint takes rather than a value silently ignored.
///
/// ```swift
/// struct Reveal: APIRequest {
///     let prompt: PromptNumber
///     enum CodingKeys: String, CodingKey, CaseIterable { case prompt }
/// }
/// let body = try await request.decode(Reveal.self)
/// ```
protocol APIRequest: Decodable, Sendable {
    associatedtype CodingKeys: CodingKey & CaseIterable
}

extension Request {
    /// The largest body any endpoint takes (``ServingMiddleware`` refuses larger ones first).
    static let bodyLimit = 16 * 1024

    /// Reads the body as `T`: valid UTF-8, a JSON object, only `T`'s fields, each of its type.
    func decode<T: APIRequest>(_ type: T.Type) async throws -> T {
        // ServingMiddleware has already read the body, within the size limit and the deadline.
        try Request.decode(T.self, from: Data(try await body.collect(upTo: Request.bodyLimit).readableBytesView))
    }

    /// Reads `bytes` as `T`, as ``decode(_:)`` reads a body (a sealed request's inner body too).
    static func decode<T: APIRequest>(_ type: T.Type, from bytes: Data) throws -> T {
        guard String(validating: bytes, as: UTF8.self) != nil else { throw APIError.invalidUTF8 }
        guard case .object(let fields)? = try? JSONDecoder().decode(JSONValue.self, from: bytes) else { throw APIError.invalidJSON }
        let allowed = T.CodingKeys.allCases.map(\.stringValue).sorted()
        if let unknown = fields.keys.sorted().first(where: { !allowed.contains($0) }) {
            throw APIError(
                .badRequest, "unknown-field", "Unknown field \"\(unknown)\". This endpoint takes: \(allowed.joined(separator: ", ")).")
        }
        // A field given as null is a mistake, not a field left out (docs/openapi.yaml types each).
        if let null = fields.keys.sorted().first(where: { fields[$0] == .null }) {
            throw APIError(.badRequest, "wrong-type", "The field \"\(null)\" is null. Give it a value, or leave it out if it is optional.")
        }
        do {
            return try JSONDecoder().decode(T.self, from: bytes)
        } catch let DecodingError.keyNotFound(key, _) {
            throw APIError(.badRequest, "missing-field", "The field \"\(key.stringValue)\" is missing.")
        } catch let DecodingError.typeMismatch(expected, context) {
            throw APIError(
                .badRequest, "wrong-type",
                "The field \"\(context.field)\" must be \(expected == String.self ? "a string" : "of another type").")
        } catch let DecodingError.valueNotFound(expected, context) {
            throw APIError(
                .badRequest, "wrong-type", "The field \"\(context.field)\" must be \(expected == String.self ? "a string" : "given").")
        } catch let DecodingError.dataCorrupted(context) {
            throw APIError(.badRequest, "wrong-type", "The field \"\(context.field)\" \(context.debugDescription)")
        }
    }
}

extension DecodingError.Context {
    fileprivate var field: String { codingPath.first?.stringValue ?? "" }
}

/// A prompt's number (from 0) in a request.
struct PromptNumber: Decodable, Sendable {
    let value: Int

    init(from decoder: any Decoder) throws {
        let container = try decoder.singleValueContainer()
        guard let value = try? container.decode(Int.self), (0..<100_000).contains(value) else {
            throw DecodingError.dataCorruptedError(in: container, debugDescription: "must be a whole number from 0.")
        }
        self.value = value
    }
}

/// What a page drew for one reflection or tap, so that sending it again (after no answer, to
/// this laptop or another of the session) is taken once: 16 random bytes in base64url.
struct Once: Decodable, Sendable {
    let bytes: [UInt8]

    init(from decoder: any Decoder) throws {
        let container = try decoder.singleValueContainer()
        guard let text = try? container.decode(String.self), text.count == 22, let bytes = Base64URL.decode(text), bytes.count == 16 else {
            throw DecodingError.dataCorruptedError(in: container, debugDescription: "must be 16 random bytes in base64url (22 characters).")
        }
        self.bytes = bytes
    }
}

/// A reflection's id in a request: 64 hex digits.
struct ReflectionID: Decodable, Sendable {
    let value: EventID

    init(from decoder: any Decoder) throws {
        let container = try decoder.singleValueContainer()
        guard let text = try? container.decode(String.self), let id = EventID(hex: text) else {
            throw DecodingError.dataCorruptedError(in: container, debugDescription: "must be a reflection id (64 hex digits).")
        }
        value = id
    }
}

/// The request bodies of the API, one per endpoint that takes one.
enum Body {
    struct Join: APIRequest {
        let code: String
        enum CodingKeys: String, CodingKey, CaseIterable { case code }
    }

    struct Reflection: APIRequest {
        let prompt: PromptNumber
        let text: String
        let once: Once?
        enum CodingKeys: String, CodingKey, CaseIterable { case prompt, text, once }
    }

    struct Resonance: APIRequest {
        let reflection: ReflectionID
        let once: Once?
        enum CodingKeys: String, CodingKey, CaseIterable { case reflection, once }
    }

    struct Prompt: APIRequest {
        let prompt: PromptNumber
        enum CodingKeys: String, CodingKey, CaseIterable { case prompt }
    }

    struct Hide: APIRequest {
        let reflection: ReflectionID
        let reason: String
        enum CodingKeys: String, CodingKey, CaseIterable { case reflection, reason }
    }

    struct Note: APIRequest {
        let text: String
        let prompt: PromptNumber?
        enum CodingKeys: String, CodingKey, CaseIterable { case text, prompt }
    }

    /// `{}`: an action that takes nothing.
    struct Nothing: APIRequest {
        enum CodingKeys: CodingKey, CaseIterable {
            var stringValue: String { switch self {} }
            var intValue: Int? { nil }
            init?(stringValue: String) { nil }
            init?(intValue: Int) { nil }
        }
        init(from decoder: any Decoder) throws {}
    }

    struct Admit: APIRequest {
        let role: String
        let node: String
        enum CodingKeys: String, CodingKey, CaseIterable { case role, node }

        /// The role, or a clear error.
        func checkedRole() throws -> Replica.Role {
            guard let role = Replica.Role(wireName: role) else {
                throw APIError(.badRequest, "bad-role", "The role must be \"co-facilitator\" or \"archivist\".")
            }
            return role
        }
    }

    struct TurnAway: APIRequest {
        let node: String
        enum CodingKeys: String, CodingKey, CaseIterable { case node }
    }

    struct Wipe: APIRequest {
        let confirm: String
        enum CodingKeys: String, CodingKey, CaseIterable { case confirm }
    }
}
