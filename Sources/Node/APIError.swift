import Foundation
import HTTPTypes
import Hummingbird
import Meeting

/// A refusal from the node's API: an HTTP status and `{"error": {"code", "message"}}`.
///
/// `code` is stable, so pages can say it in the participant's language; `message` is English
/// and says what to do.
public struct APIError: HTTPResponseError, Sendable {
    public let status: HTTPResponse.Status
    public let code: String
    public let message: String

    public init(_ status: HTTPResponse.Status, _ code: String, _ message: String) {
        self.status = status
        self.code = code
        self.message = message
    }

    struct Rendered: Encodable {
        struct Detail: Encodable {
            var code: String
            var message: String
        }
        var error: Detail
    }

    public func response(from request: Request, context: some RequestContext) throws -> Response {
        Response.json(Rendered(error: .init(code: code, message: message)), status: status)
    }

    /// The error's body, as a value (a sealed answer carries it inside).
    var json: JSONValue { .object(["error": .object(["code": .string(code), "message": .string(message)])]) }

    static let tooLarge = APIError(.contentTooLarge, "too-large", "The request is too large. A reflection may be at most 1,000 characters.")
    static let invalidUTF8 = APIError(.badRequest, "invalid-utf8", "The request is not valid UTF-8 text.")
    static let invalidJSON = APIError(
        .badRequest, "invalid-json", "The request is not a JSON object (its numbers whole, no field given twice). Send the body as JSON.")
    static let joinAgain = APIError(
        .unauthorized, "join-again",
        "This page is no longer joined to the session (the node may have restarted). Enter the join code again.")
    static let wrongCode = APIError(.forbidden, "wrong-code", "That join code is not right. Check it with the facilitator and try again.")
    static let wrongArchiveSecret = APIError(
        .forbidden, "wrong-secret", "This link does not open the archive. Use the link `halqa archive` printed when it started.")
    static let noArchiveSecret = APIError(
        .unauthorized, "no-secret",
        "Open the archive with the link `halqa archive` printed when it started: it carries the archive's secret.")
    static let wrongSecret = APIError(
        .forbidden, "wrong-secret", "This link does not open the facilitator's console. Use the link Halqa printed when it started.")
    static let noSecret = APIError(
        .unauthorized, "no-secret", "Open the console with the link Halqa printed when it started: it carries the facilitator's secret.")
    static let throttled = APIError(.tooManyRequests, "throttled", "Too many wrong codes were tried. Wait a minute, then try again.")
    static let full = APIError(.serviceUnavailable, "full", "This session has as many participants as the node can take.")
    static let standingBy = APIError(
        .serviceUnavailable, "standing-by",
        "This laptop is standing by while the host's laptop runs the meeting. Your page goes to the host's laptop; send your reflection there."
    )
    static let alreadyWrote = APIError(
        .conflict, "already-wrote", "You have already written a reflection for this prompt. Wait for the next one.")
    static let alreadyResonated = APIError(.conflict, "already-resonated", "You have already said this one resonates with you.")
    static let tooManyJoins = APIError(
        .tooManyRequests, "too-many-joins", "This device has joined many times in a short while. Wait half a minute, then try again.")
    static let slowDown = APIError(
        .tooManyRequests, "slow-down", "This device is sending requests faster than a page does. Wait a few seconds, then reload the page.")
    static let tooSlow = APIError(
        .requestTimeout, "too-slow", "The request took too long to arrive. Check the Wi-Fi connection and try again.")
    static let noSuchEndpoint = APIError(
        .notFound, "no-such-endpoint", "There is nothing at this address. The API is described in docs/openapi.yaml.")
}

extension Response {
    /// A JSON response that no cache keeps.
    static func json(_ value: some Encodable, status: HTTPResponse.Status = .ok) -> Response {
        Response(
            status: status,
            headers: [.contentType: "application/json; charset=utf-8", .cacheControl: "no-store"],
            body: ResponseBody(byteBuffer: ByteBuffer(bytes: Wire.encode(value))))
    }
}

/// A refusal from the meeting's rules, as the API answers it: the same JSON as ``APIError``,
/// with the status its kind calls for.
extension MeetingError: HTTPResponseError {
    public var status: HTTPResponse.Status {
        switch code {
        case .emptyText, .textTooLong, .invalidUTF8, .controlCharacters, .invalidMinimum, .invalidSearch, .invalidFilter, .invalidEvent,
            .notAnOption,
            .notACheckIn:
            .badRequest
        case .noSuchPrompt, .noSuchReflection, .noSuchSession, .noSuchNode: .notFound
        case .notAFacilitator: .forbidden
        case .storage: .serviceUnavailable
        default: .conflict
        }
    }

    public func response(from request: Request, context: some RequestContext) throws -> Response {
        try apiError.response(from: request, context: context)
    }

    /// The refusal as the API says it.
    var apiError: APIError { APIError(status, code.rawValue, message) }
}
