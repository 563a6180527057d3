import HTTPTypes
import Hummingbird

/// Lets a request through only with a bearer token the room has given a joined phone, and
/// puts the token in the context for the route (``NodeContext/participant()``).
struct ParticipantAuthenticator: RouterMiddleware {
    typealias Context = NodeContext
    let room: MeetingRoom

    func handle(_ request: Request, context: NodeContext, next: (Request, NodeContext) async throws -> Response) async throws -> Response {
        guard let token = request.bearer, await room.registry.knows(token) else { throw APIError.joinAgain }
        var context = context
        context.token = token
        return try await next(request, context)
    }
}

/// Lets a request through only with one of the secrets `accepted` gives (the console's, or
/// the projector's read-only key), every wrong one counted by the room's guess throttle.
struct SecretAuthenticator: RouterMiddleware {
    typealias Context = NodeContext
    let room: MeetingRoom
    let accepted: @Sendable (MeetingRoom) -> [String]

    /// The console: the facilitator's secret only.
    static func facilitator(_ room: MeetingRoom) -> SecretAuthenticator {
        SecretAuthenticator(room: room) { [$0.access.facilitatorSecret] }
    }

    /// The projector: its own key opens the room's view and nothing else (the console's
    /// secret, which may do everything, opens it too: links made before the projector had a key).
    static func projector(_ room: MeetingRoom) -> SecretAuthenticator {
        SecretAuthenticator(room: room) { [$0.links.screenKey, $0.access.facilitatorSecret] }
    }

    func handle(_ request: Request, context: NodeContext, next: (Request, NodeContext) async throws -> Response) async throws -> Response {
        guard let secret = request.bearer else { throw APIError.noSecret }
        switch await room.throttle.check(secret, against: accepted(room), kind: .secret, from: context.addressKey) {
        case .throttled: throw APIError.throttled
        case .wrong: throw APIError.wrongSecret
        case .right: return try await next(request, context)
        }
    }
}

extension Request {
    /// The `Authorization: Bearer …` value, if any.
    var bearer: String? {
        guard let header = headers[.authorization], header.hasPrefix("Bearer ") else { return nil }
        return String(header.dropFirst(7))
    }
}
