import Hummingbird
import Meeting

/// The facilitator's console: its view, and one route per action (docs/openapi.yaml). Every
/// route here is behind the facilitator's secret (``SecretAuthenticator/facilitator(_:)``).
///
/// To add an action: a body type in ``Body``, a line in ``add(to:)`` that calls the session
/// (or the room), and its entry in docs/openapi.yaml. The room is told of the change and the
/// console gets its new view back.
struct ConsoleRoutes {
    let room: MeetingRoom

    func add(to console: RouterGroup<NodeContext>) {
        console.get { _, _ in Response.json(await room.consoleView()) }
        action(console, "open", Body.Prompt.self) { try await $0.open(prompt: $1.prompt.value) }
        action(console, "close-prompt", Body.Prompt.self) { try await $0.close(prompt: $1.prompt.value) }
        action(console, "reveal", Body.Prompt.self) { _ = try await $0.reveal(prompt: $1.prompt.value) }
        action(console, "hide", Body.Hide.self) { try await $0.hide($1.reflection.value, reason: $1.reason) }
        action(console, "note", Body.Note.self) { try await $0.writeNote($1.text, prompt: $1.prompt?.value) }
        action(console, "close", Body.Nothing.self) { session, _ in try await session.closeSession() }
        action(console, "admit", Body.Admit.self) { [room] _, body in
            try await room.nodes().admit(body.node, as: try body.checkedRole())
        }
        action(console, "turn-away", Body.TurnAway.self) { [room] _, body in try await room.nodes().turnAway(body.node) }
        console.post("wipe") { [room] request, _ in
            guard try await request.decode(Body.Wipe.self).confirm == "WIPE" else {
                throw APIError(.badRequest, "not-confirmed", "Wiping cannot be undone: confirm it by sending \"confirm\": \"WIPE\".")
            }
            let wiped = try await room.wipe()
            struct Done: Encodable {
                var wiped = true
                var reflections: Int
                var events: Int
            }
            return Response.json(Done(reflections: wiped.reflections, events: wiped.events))
        }
        // Any other action is unknown, told only to someone holding the secret (and a wrong
        // secret here counts as a guess, like everywhere else on the console).
        console.post("{action}") { _, _ -> Response in throw APIError.noSuchEndpoint }
    }

    /// `POST /api/console/<path>`: decodes the body, acts, tells the room, answers with the console's view.
    private func action<B: APIRequest>(
        _ console: RouterGroup<NodeContext>, _ path: String, _ body: B.Type,
        _ act: @escaping @Sendable (LiveSession, B) async throws -> Void
    ) {
        console.post(RouterPath(path)) { [room] request, _ in
            try await act(room.session, try await request.decode(B.self))
            await room.changed()
            return Response.json(await room.consoleView())
        }
    }
}

extension MeetingRoom {
    /// The node's replicator, for admitting and turning away: every hosted node has one.
    func nodes() throws -> Replicator {
        guard let replicator else { throw APIError.noSuchEndpoint }
        return replicator
    }
}
