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

/// Lets a request through only with one of the secrets `accepted` gives (the console's, the
/// projector's read-only key, the archive's), every wrong one counted by `throttle`.
struct SecretAuthenticator: RouterMiddleware {
    typealias Context = NodeContext
    let throttle: GuessThrottle
    let accepted: @Sendable () -> [String]
    /// What a request without a secret, or with a wrong one, is told.
    var missing = APIError.noSecret
    var wrong = APIError.wrongSecret

    /// The console: the facilitator's secret only.
    static func facilitator(_ room: MeetingRoom) -> SecretAuthenticator {
        SecretAuthenticator(throttle: room.throttle) { [room.access.facilitatorSecret] }
    }

    /// The projector: its own key opens the room's view and nothing else (the console's
    /// secret, which may do everything, opens it too: links made before the projector had a key).
    static func projector(_ room: MeetingRoom) -> SecretAuthenticator {
        SecretAuthenticator(throttle: room.throttle) { [room.links.screenKey, room.access.facilitatorSecret] }
    }

    /// The organiser's archive (``ArchiveRoutes``): its own secret and throttle.
    static func archive(_ secret: String) -> SecretAuthenticator {
        SecretAuthenticator(throttle: GuessThrottle(), accepted: { [secret] }, missing: .noArchiveSecret, wrong: .wrongArchiveSecret)
    }

    func handle(_ request: Request, context: NodeContext, next: (Request, NodeContext) async throws -> Response) async throws -> Response {
        guard let secret = request.bearer else { throw missing }
        switch await throttle.check(secret, against: accepted(), kind: .secret, from: context.addressKey) {
        case .throttled: throw APIError.throttled
        case .wrong: throw wrong
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
