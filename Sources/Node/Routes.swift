import Foundation
import Hummingbird
import HummingbirdWebSocket
import Meeting

/// Builds the node's routes: pages, the JSON API (docs/openapi.yaml) and the live socket.
///
/// Three groups, each behind its own check: participants (a joined phone's token,
/// ``ParticipantAuthenticator``), the console (the facilitator's secret) and the projector
/// (its read-only key), both ``SecretAuthenticator``. A console action is one route in
/// ``ConsoleRoutes``. Errors are thrown, never built here: ``APIError`` and ``MeetingError``
/// render themselves (``SecurityHeaders`` adds the headers every response carries).
public enum Routes {
    public static func router(for room: MeetingRoom, pages: Pages, limits: ServingLimits = .init()) -> Router<NodeContext> {
        let router = Router(context: NodeContext.self)
        router.middlewares.add(SecurityHeaders(sessionOrigin: { await room.isSessionOrigin($0) }))
        router.middlewares.add(ServingMiddleware(limits: limits))

        // Pages and their assets, all served by the node itself; the room's pages start in its language.
        let pages = pages.speaking(room.language)
        router.get("/") { request, _ in try pages.response("participant.html", to: request) }
        router.get("/facilitate") { request, _ in try pages.response("console.html", to: request) }
        router.get("/screen") { request, _ in try pages.response("screen.html", to: request) }
        router.get("/assets/{file}") { request, context in try pages.response(context.parameters.require("file"), to: request) }

        router.post("/api/join") { request, context in try await join(request, context, room) }
        let participants = router.group("/api").add(middleware: ParticipantAuthenticator(room: room))
        participants.get("session") { _, context in try await session(context, room) }
        participants.post("reflections") { request, context in try await reflect(request, context, room) }
        participants.post("answers") { request, context in
            try await answer(try await request.decode(Body.Answer.self), token: try context.participant(), from: context.addressKey, room)
            return Response.json(Received(), status: .created)
        }
        participants.post("resonance") { request, context in try await resonate(request, context, room) }
        // What a page says, sealed on the phone (``Sealing``); the plain forms above stay for
        // scripts and tests, and the pages never use them.
        router.get("/api/seal-key") { _, _ in
            Response.json(["key": room.sealing.publicKeyText, "signature": Base64URL.encode(room.sealKeySignature)])
        }
        router.post("/api/sealed") { request, context in try await sealed(request, context, room) }
        router.on("/api/sealed", method: .options) { _, _ in SecurityHeaders.preflight() }
        router.post("/api/cannot-seal") { _, context in
            await room.cannotSeal(from: context.addressKey)
            return Response(status: .noContent)
        }
        // The room's view as phones' pages read it: sealed with the view key of a sealed join;
        // with `?since=EPOCH.V` (the version a page holds), what changed since, or nothing;
        // with `&deflate=1`, in zlib's format when that is smaller (LiveSocket's `deflate`).
        router.get("/api/room") { request, _ in
            let held = request.uri.queryParameters["since"].flatMap { HeldView(String($0)) }
            let deflated = request.uri.queryParameters["deflate"] == "1"
            guard let (sealed, _) = await room.sealedUpdate(since: held, deflated: deflated) else {
                return Response.json(["unchanged": true])
            }
            return Response.json(["sealed": Data(sealed).base64EncodedString()])
        }

        ConsoleRoutes(room: room).add(to: router.group("/api/console").add(middleware: SecretAuthenticator.facilitator(room)))
        router.group("/api/screen").add(middleware: SecretAuthenticator.projector(room))
            .get { _, _ in Response.json(await room.screenView()) }

        // Live updates: the client sends one hello, then the node pushes each new state.
        router.ws("/api/live") { inbound, outbound, context in
            try await LiveSocket.serve(inbound: inbound, outbound: outbound, address: context.requestContext.addressKey, room: room)
        }
        return router
    }

    /// A phone joins with the code a person typed, or the ticket of a join link (the QR code,
    /// a page moving here), and gets a token.
    static func join(_ request: Request, _ context: NodeContext, _ room: MeetingRoom) async throws -> Response {
        let token = try await admit(try await request.decode(Body.Join.self), from: context.addressKey, room)
        // The page keeps the ticket, never the code, to join again or move to another node.
        struct Joined: Encodable {
            var token: String
            var ticket: String
            var state: ParticipantView
        }
        return Response.json(Joined(token: token, ticket: room.links.ticket, state: await room.participantView()), status: .created)
    }

    /// Checks a join code or ticket from `address` (every wrong one counted) and gives a token.
    static func admit(_ body: Body.Join, from address: String, _ room: MeetingRoom) async throws -> String {
        let typed = AccessCodes.normalise(body.code)
        switch await room.throttle.check(typed, against: [room.access.joinCode, room.links.ticket], kind: .joinCode, from: address) {
        case .throttled: throw APIError.throttled
        case .wrong: throw APIError.wrongCode
        case .right: break
        }
        guard await room.throttle.mayJoin(from: address) else { throw APIError.tooManyJoins }
        guard let token = await room.registry.join() else { throw APIError.full }
        return token
    }

    /// The room as a phone sees it, and what this page did, by its token alone: nothing here
    /// moves when another phone behind the same address writes.
    static func session(_ context: NodeContext, _ room: MeetingRoom) async throws -> Response {
        let token = try context.participant()
        return Response.json(
            ParticipantSessionResponse(
                state: await room.participantView(), wrote: await room.registry.hasWritten(token),
                resonated: await room.registry.resonatedIDs(token)))
    }

    static func reflect(_ request: Request, _ context: NodeContext, _ room: MeetingRoom) async throws -> Response {
        try await reflect(try await request.decode(Body.Reflection.self), token: try context.participant(), from: context.addressKey, room)
        return Response.json(Received(), status: .created)
    }

    struct Received: Encodable { var received = true }

    static func reflect(_ body: Body.Reflection, token: String, from address: String, _ room: MeetingRoom) async throws {
        guard await room.takesReflections() else { throw APIError.standingBy }
        let reflection = try room.session.reflection(prompt: body.prompt.value, text: body.text, once: body.once?.bytes)
        try await take(
            reflection, prompt: body.prompt.value, sentAgain: body.once != nil, onePerPhone: room.onePerPrompt, token: token, from: address,
            room)
    }

    /// A check-in's answer: taken as a reflection is, one per page per check-in.
    static func answer(_ body: Body.Answer, token: String, from address: String, _ room: MeetingRoom) async throws {
        guard await room.takesReflections() else { throw APIError.standingBy }
        let answer = try room.session.answer(prompt: body.prompt.value, option: body.option.value, once: body.once?.bytes)
        // One answer per phone, whatever the rule for reflections: a man with two taps in a
        // batch of three would know the third's answer.
        try await take(answer, prompt: body.prompt.value, sentAgain: body.once != nil, onePerPhone: true, token: token, from: address, room)
    }

    /// Takes a reflection or a check-in's answer from the page `token`: once per prompt (in
    /// memory only), on disk before it returns; the room hears of it at the next cadence.
    static func take(
        _ submission: LiveSession.Submission, prompt: Int, sentAgain: Bool, onePerPhone: Bool, token: String, from address: String,
        _ room: MeetingRoom
    ) async throws {
        // Sent again, and kept already (it reached this laptop, or one that pushed it here,
        // before the phone heard back): received, once. This page has written now.
        if sentAgain, await room.session.keeps(submission) {
            _ = await room.registry.claimWriting(token, from: address, prompt: prompt, open: await room.session.state.openPrompt)
            return
        }
        var claimed = false
        if onePerPhone {
            // Claimed before writing, so two quick taps cannot both get through.
            switch await room.registry.claimWriting(token, from: address, prompt: prompt, open: await room.session.state.openPrompt) {
            case .already: throw APIError.alreadyWrote
            case .claimed: claimed = true
            case .notOpen: break
            }
        }
        do {
            try await room.session.submit(submission)
        } catch {
            if claimed { await room.registry.unmarkWritten(token, from: address) }
            throw error
        }
        room.arrived()
    }

    static func resonate(_ request: Request, _ context: NodeContext, _ room: MeetingRoom) async throws -> Response {
        try await resonate(try await request.decode(Body.Resonance.self), token: try context.participant(), from: context.addressKey, room)
        return Response(status: .noContent)
    }

    static func resonate(_ body: Body.Resonance, token: String, from address: String, _ room: MeetingRoom) async throws {
        let reflection = body.reflection.value
        // The rules first (a shown reflection of the open prompt), then one tap per page. A
        // phone is told one thing for every reflection it cannot tap, as docs/openapi.yaml says.
        if let refusal = await room.session.state.refusal(of: .resonated(reflection: reflection, nonce: []), by: nil) {
            guard [.noSuchReflection, .notResonable, .sessionClosed].contains(refusal.code) else { throw refusal }
            throw APIError(
                .conflict, MeetingError.Code.notResonable.rawValue, "You can resonate only with a shown reflection of the open prompt.")
        }
        let tap = try room.session.resonance(with: reflection, once: body.once?.bytes)
        if body.once != nil, await room.session.keeps(tap) {
            _ = await room.registry.claimResonance(token, with: reflection)
            return
        }
        guard await room.registry.claimResonance(token, with: reflection) else { throw APIError.alreadyResonated }
        try await room.session.submit(tap)
        await room.noteTap(from: address, token: token)
        // Counts reach the room only at the resonance cadence, so a tap changes no page now:
        // the console hears of it with the next flush, as of reflections.
        room.arrived()
    }
}
