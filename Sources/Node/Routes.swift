import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdWebSocket
import Meeting
import NIOCore

/// The request context of a Halqa node: it knows the client's address (used only to slow
/// down guessing, held in memory, never logged) and can upgrade to a WebSocket.
public struct NodeContext: RequestContext, RemoteAddressRequestContext, WebSocketRequestContext {
    public var coreContext: CoreRequestContextStorage
    public let webSocket: WebSocketHandlerReference<NodeContext>
    public let remoteAddress: SocketAddress?

    public init(source: ApplicationRequestContextSource) {
        coreContext = .init(source: source)
        webSocket = .init()
        remoteAddress = source.channel.remoteAddress
    }

    /// The client's address, for throttling only.
    var addressKey: String { remoteAddress?.ipAddress ?? "unknown" }
}

/// Builds the node's routes: pages, the JSON API (docs/openapi.yaml) and the live socket.
public enum Routes {
    public static func router(for room: MeetingRoom, pages: Pages, limits: ServingLimits = .init()) -> Router<NodeContext> {
        let router = Router(context: NodeContext.self)
        router.middlewares.add(SecurityHeaders())
        router.middlewares.add(ServingMiddleware(limits: limits))

        // Pages and their assets, all served by the node itself.
        router.get("/") { _, _ in try pages.response("participant.html") }
        router.get("/facilitate") { _, _ in try pages.response("console.html") }
        router.get("/screen") { _, _ in try pages.response("screen.html") }
        router.get("/assets/{file}") { _, context in try pages.response(context.parameters.require("file")) }

        // Participants.
        router.post("/api/join") { request, context in
            let body = try await JSONBody(request, allowed: ["code"])
            let typed = AccessCodes.normalise(try body.string("code") ?? "")
            // The code a person typed, or the ticket of a join link (the QR code, a page moving here).
            switch await room.throttle.check(typed, against: [room.access.joinCode, room.links.ticket], kind: .joinCode, from: context.addressKey) {
            case .throttled: throw APIError.throttled
            case .wrong: throw APIError.wrongCode
            case .right: break
            }
            guard await room.throttle.mayJoin(from: context.addressKey) else { throw APIError.tooManyJoins }
            guard let token = await room.registry.join() else { throw APIError.full }
            // The page keeps the ticket, never the code, to join again or move to another node.
            struct Joined: Encodable { var token: String; var ticket: String; var state: ParticipantView }
            return Response.json(Joined(token: token, ticket: room.links.ticket, state: await room.participantView()), status: .created)
        }

        router.get("/api/session") { request, _ in
            let token = try await participant(request, room)
            let state = await room.participantView()
            // What this page did, by its token alone: nothing here moves when another phone
            // behind the same address writes.
            return Response.json(ParticipantSessionResponse(
                state: state, wrote: await room.registry.hasWritten(token), resonated: await room.registry.resonatedIDs(token)))
        }

        router.post("/api/reflections") { request, context in
            let token = try await participant(request, room)
            let body = try await JSONBody(request, allowed: ["prompt", "text"])
            let prompt = try body.int("prompt")!
            let text = try body.string("text")!
            guard await room.takesReflections() else { throw APIError.standingBy }
            var claimed = false
            if room.onePerPrompt {
                // Claimed before writing, so two quick taps cannot both get through.
                switch await room.registry.claimWriting(token, from: context.addressKey, prompt: prompt, open: await room.session.state.openPrompt) {
                case .already: throw APIError.alreadyWrote
                case .claimed: claimed = true
                case .notOpen: break
                }
            }
            do {
                _ = try await room.session.submitReflection(prompt: prompt, text: text)
            } catch let error as MeetingError {
                if claimed { await room.registry.unmarkWritten(token, from: context.addressKey) }
                throw APIError(error)
            }
            await room.changed(immediately: false)
            struct Received: Encodable { var received = true }
            return Response.json(Received(), status: .created)
        }

        router.post("/api/resonance") { request, _ in
            let token = try await participant(request, room)
            let body = try await JSONBody(request, allowed: ["reflection"])
            let reflection = try body.eventID("reflection")
            let state = await room.session.state
            guard let open = state.openPrompt, state.revealed(prompt: open).contains(where: { $0.id == reflection && $0.hiddenReason == nil }) else {
                throw APIError(.conflict, "not-resonable", "You can resonate only with a shown reflection of the open prompt.")
            }
            guard await room.registry.claimResonance(token, with: reflection) else { throw APIError.alreadyResonated }
            do {
                try await room.session.resonate(with: reflection)
            } catch let error as MeetingError {
                throw APIError(error)
            }
            await room.changed()
            return Response(status: .noContent)
        }

        // Facilitators.
        router.get("/api/console") { request, context in
            try await facilitator(request, context, room)
            return Response.json(await room.consoleView())
        }

        router.get("/api/screen") { request, context in
            try await projector(request, context, room)
            return Response.json(await room.screenView())
        }

        router.post("/api/console/{action}") { request, context in
            try await facilitator(request, context, room)
            let action = try context.parameters.require("action")
            let session = room.session
            if action == "wipe" {
                let body = try await JSONBody(request, allowed: ["confirm"])
                guard try body.string("confirm") == "WIPE" else {
                    throw APIError(.badRequest, "not-confirmed", "Wiping cannot be undone: confirm it by sending \"confirm\": \"WIPE\".")
                }
                do {
                    let wiped = try await room.wipe()
                    struct Done: Encodable { var wiped = true; var reflections: Int; var events: Int }
                    return Response.json(Done(reflections: wiped.reflections, events: wiped.events))
                } catch let error as MeetingError {
                    throw APIError(error)
                }
            }
            do {
                switch action {
                case "open":
                    try await session.open(prompt: try JSONBody(request, allowed: ["prompt"]).int("prompt")!)
                case "close-prompt":
                    try await session.close(prompt: try JSONBody(request, allowed: ["prompt"]).int("prompt")!)
                case "reveal":
                    try await session.reveal(prompt: try JSONBody(request, allowed: ["prompt"]).int("prompt")!)
                case "hide":
                    let body = try await JSONBody(request, allowed: ["reflection", "reason"])
                    try await session.hide(try body.eventID("reflection"), reason: try body.string("reason")!)
                case "note":
                    let body = try await JSONBody(request, allowed: ["text", "prompt"])
                    try await session.writeNote(try body.string("text")!, prompt: try body.int("prompt", optional: true))
                case "close":
                    _ = try await JSONBody(request, allowed: [])
                    try await session.closeSession()
                case "admit":
                    let body = try await JSONBody(request, allowed: ["node", "role"])
                    guard let role = Replica.Role(wireName: try body.string("role") ?? "") else {
                        throw APIError(.badRequest, "bad-role", "The role must be \"co-facilitator\" or \"archivist\".")
                    }
                    guard let replicator = await room.replicator else { throw APIError.noSuchEndpoint }
                    try await replicator.admit(try body.string("node") ?? "", as: role)
                case "turn-away":
                    let body = try await JSONBody(request, allowed: ["node"])
                    guard let replicator = await room.replicator else { throw APIError.noSuchEndpoint }
                    try await replicator.turnAway(try body.string("node") ?? "")
                default:
                    throw APIError.noSuchEndpoint
                }
            } catch let error as MeetingError {
                throw APIError(error)
            }
            await room.changed()
            return Response.json(await room.consoleView())
        }

        // Live updates: the client sends one hello, then the node pushes each new state.
        router.ws("/api/live") { inbound, outbound, context in
            try await LiveSocket.serve(inbound: inbound, outbound: outbound, address: context.requestContext.addressKey, room: room)
        }
        return router
    }

    static func bearer(_ request: Request) -> String? {
        guard let header = request.headers[.authorization], header.hasPrefix("Bearer ") else { return nil }
        return String(header.dropFirst(7))
    }

    static func participant(_ request: Request, _ room: MeetingRoom) async throws -> String {
        guard let token = bearer(request), await room.registry.knows(token) else { throw APIError.joinAgain }
        return token
    }

    static func facilitator(_ request: Request, _ context: NodeContext, _ room: MeetingRoom) async throws {
        try await authorise(request, context, room, expected: [room.access.facilitatorSecret])
    }

    /// The projector: its own key opens the room's view and nothing else (the console's
    /// secret, which may do everything, opens it too: links made before the projector had a key).
    static func projector(_ request: Request, _ context: NodeContext, _ room: MeetingRoom) async throws {
        try await authorise(request, context, room, expected: [room.links.screenKey, room.access.facilitatorSecret])
    }

    private static func authorise(_ request: Request, _ context: NodeContext, _ room: MeetingRoom, expected: [String]) async throws {
        guard let secret = bearer(request) else { throw APIError.noSecret }
        switch await room.throttle.check(secret, against: expected, kind: .secret, from: context.addressKey) {
        case .throttled: throw APIError.throttled
        case .wrong: throw APIError.wrongSecret
        case .right: break
        }
    }
}

/// Headers on every response: pages may run only the node's own scripts, load nothing from
/// elsewhere, and send no referrer; unknown API paths get a JSON error.
struct SecurityHeaders: RouterMiddleware {
    typealias Context = NodeContext

    /// 405, with the methods the address does take (RFC 9110 asks for `Allow`).
    static func methodNotAllowed(_ request: Request, _ context: NodeContext) throws -> Response {
        let allowed = allowed(request.uri.path) ?? "GET, HEAD, POST"
        var response = try APIError(.methodNotAllowed, "method-not-allowed", "This address does not take \(request.method); it takes \(allowed).")
            .response(from: request, context: context)
        response.headers[.allow] = allowed
        return response
    }

    /// The methods an address of the node takes (docs/openapi.yaml), or nil for no such address.
    static func allowed(_ path: String) -> String? {
        if path.hasPrefix("/api/console/") || ["/api/join", "/api/reflections", "/api/resonance"].contains(path) { return "POST" }
        if path.hasPrefix("/assets/") || ["/", "/facilitate", "/screen", "/api/session", "/api/console", "/api/screen", "/api/live"].contains(path) { return "GET, HEAD" }
        return nil
    }

    func handle(_ request: Request, context: NodeContext, next: (Request, NodeContext) async throws -> Response) async throws -> Response {
        var response: Response
        do {
            response = try await next(request, context)
        } catch let error as APIError {
            response = try error.response(from: request, context: context)
        } catch let error as HTTPError where error.status == .notFound && SecurityHeaders.allowed(request.uri.path) != nil {
            // The address exists, for other methods.
            response = try SecurityHeaders.methodNotAllowed(request, context)
        } catch let error as HTTPError where error.status == .notFound {
            response = try APIError.noSuchEndpoint.response(from: request, context: context)
        } catch let error as HTTPError where error.status == .methodNotAllowed {
            response = try SecurityHeaders.methodNotAllowed(request, context)
        } catch let error as any HTTPResponseError where error.status == .contentTooLarge {
            response = try APIError.tooLarge.response(from: request, context: context)
        }
        response.headers[.contentSecurityPolicy] =
            "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; font-src 'self'; connect-src 'self' ws: wss:; base-uri 'none'; form-action 'self'; frame-ancestors 'none'"
        response.headers[.xContentTypeOptions] = "nosniff"
        // Nothing of a meeting is kept in a phone's browser cache (docs/threat-model.md).
        response.headers[.cacheControl] = "no-store"
        response.headers[.referrerPolicy] = "no-referrer"
        return response
    }
}

extension HTTPField.Name {
    static let contentSecurityPolicy = HTTPField.Name("Content-Security-Policy")!
    static let xContentTypeOptions = HTTPField.Name("X-Content-Type-Options")!
    static let referrerPolicy = HTTPField.Name("Referrer-Policy")!
}
