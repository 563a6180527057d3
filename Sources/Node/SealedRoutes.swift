import Foundation
import Hummingbird
import Meeting

/// `POST /api/sealed`: everything a participant's page says, sealed on the phone (``Sealing``).
///
/// Opened, a request is `{"op": ..., "token": ..., "body": {...}}`:
///
/// | op | body | answer |
/// |---|---|---|
/// | `join` | `{"code"}` | 201 `{"token", "ticket", "view"}` (`view`: the room view's key) |
/// | `mine` | none | 200 `{"wrote", "resonated"}`: what this page did, for the open prompt |
/// | `reflect` | `{"prompt", "text"}` | 201 `{"received": true}` |
/// | `answer` | `{"prompt", "option"}` | 201 `{"received": true}` (a check-in's picture, ``Body/Answer``) |
/// | `resonate` | `{"reflection"}` | 204 |
///
/// The answer is `{"status", "body"}` sealed back to the phone, always the same size and
/// always HTTP 200, so that nothing on the air tells one outcome from another; the statuses
/// and errors inside are those of the plain API (docs/openapi.yaml). A request that is the
/// wrong size, does not open, or was opened before is refused in the clear (400, 403, 409),
/// and nothing it says is done.
extension Routes {
    struct SealedRequest: APIRequest {
        static let fields = ["op", "token", "body"]
        let op: String
        let token: String?
        /// Read as its operation says (``Body``): parsed once, with the request.
        let body: JSONValue
        init(_ body: RequestFields) throws(APIError) {
            op = try body.require("op")
            token = try body.optional("token")
            self.body = body.optionalJSON("body") ?? .object([:])
        }
    }

    static let sealedWrongSize = APIError(
        .badRequest, "sealed-size",
        "A sealed request must be exactly \(Sealing.requestSize) bytes. Reload the page: it seals what it sends.")
    static let sealedUnopenable = APIError(
        .forbidden, "sealed-unopenable",
        "This request was not sealed to this node's key, or was changed on the way. Reload the page and send it again.")
    static let sealedReplayed = APIError(
        .conflict, "sealed-replayed", "This sealed request was sent before; each is taken once. Reload the page and send it again.")

    static let sealedType = APIError(
        .unsupportedMediaType, "sealed-type",
        "A sealed request is sent as application/octet-stream. Reload the page: it seals what it sends.")

    static func sealed(_ request: Request, _ context: NodeContext, _ room: MeetingRoom) async throws -> Response {
        // Not a type a page of another origin may send without asking first (the preflight,
        // which only this session's laptops pass).
        guard request.headers[.contentType]?.lowercased() == "application/octet-stream" else { throw sealedType }
        let received = try await request.body.collect(upTo: Request.bodyLimit)
        let opened: Sealing.Opened
        do {
            // Opened where it lies, not copied first: a request is 8 KiB, and a weak laptop takes 200 at once.
            opened = try received.withUnsafeReadableBytes { raw throws(Sealing.Refusal) in
                try room.sealing.open(raw.bindMemory(to: UInt8.self))
            }
        } catch .wrongSize {
            throw sealedWrongSize
        } catch {
            throw sealedUnopenable
        }
        guard await room.admitSealed(opened.nonce) else { throw sealedReplayed }
        let (status, body) = await answer(opened.plaintext, context, room)
        var reply = sealedReply(status: status, body: body)
        if reply.count > Sealing.replyPlaintext - 2 {
            // A refusal too long to fit keeps its status and code (pages say it in their words).
            let code: JSONValue =
                if case .object(let fields)? = body, case .object(let error)? = fields["error"], let code = error["code"] { code } else {
                    .string("too-large")
                }
            let status = code == .string("too-large") ? 500 : status
            reply = sealedReply(status: status, body: .object(["error": .object(["code": code])]))
        }
        return Response(
            status: .ok, headers: [.contentType: "application/octet-stream", .cacheControl: "no-store"],
            body: ResponseBody(byteBuffer: ByteBuffer(bytes: room.sealing.seal(reply, to: opened))))
    }

    /// `{"body", "status"}` (no body for 204).
    static func sealedReply(status: Int, body: JSONValue?) -> [UInt8] {
        var reply: [String: JSONValue] = ["status": .integer(Int64(status))]
        reply["body"] = body
        return JSONValue.object(reply).canonicalBytes
    }

    /// Does what an opened request says, and answers as the plain API would.
    static func answer(_ plaintext: [UInt8], _ context: NodeContext, _ room: MeetingRoom) async -> (Int, JSONValue?) {
        do {
            let inner = try Request.decode(SealedRequest.self, from: plaintext)
            let body = inner.body
            func token() async throws -> String {
                guard let token = inner.token, await room.registry.knows(token) else { throw APIError.joinAgain }
                return token
            }
            switch inner.op {
            case "join":
                let token = try await admit(try Request.decode(Body.Join.self, from: body), from: context.addressKey, room)
                return (
                    201,
                    .object([
                        "token": .string(token), "ticket": .string(room.links.ticket), "view": .string(Base64URL.encode(room.viewKey)),
                    ])
                )
            case "mine":
                let token = try await token()
                // What this page did for the open prompt; at most 12 taps, as fits the answer
                // (a page that tapped more learns the rest when it taps again).
                let resonated = await room.registry.resonatedIDs(token).prefix(12)
                return (
                    200,
                    .object([
                        "wrote": .bool(await room.registry.hasWritten(token)), "resonated": .array(resonated.map { .string($0) }),
                    ])
                )
            case "reflect":
                try await reflect(
                    try Request.decode(Body.Reflection.self, from: body), token: try await token(), from: context.addressKey, room)
                return (201, .object(["received": .bool(true)]))
            case "answer":
                try await Routes.answer(
                    try Request.decode(Body.Answer.self, from: body), token: try await token(), from: context.addressKey, room)
                return (201, .object(["received": .bool(true)]))
            case "resonate":
                try await resonate(
                    try Request.decode(Body.Resonance.self, from: body), token: try await token(), from: context.addressKey, room)
                return (204, nil)
            default:
                throw APIError(
                    .badRequest, "unknown-op", "Unknown sealed operation \"\(inner.op)\": join, mine, reflect, answer or resonate.")
            }
        } catch {
            let refusal =
                (error as? APIError) ?? (error as? MeetingError)?.apiError
                ?? APIError(.internalServerError, "internal", "The node could not do this. Try again.")
            return (Int(refusal.status.code), refusal.json)
        }
    }
}
