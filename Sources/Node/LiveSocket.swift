import Foundation
import HummingbirdWebSocket
import Meeting

/// The live connection of a page: the page sends one hello saying who it is, then the node
/// pushes each new state until either side goes away.
///
/// ```
/// → {"type":"hello","sealed":true}                      a participant's page: the room's view, sealed with the view key
/// → {"type":"hello","token":"..."}                      a participant, by token (scripts; pages never send it)
/// → {"type":"hello","facilitator":"..."}                the console, with the facilitator's secret
/// → {"type":"hello","screen":"..."}                     the projector, with its own read-only key
/// ← {"type":"state"|"console"|"screen","data":{...}}    now, then after every change
/// ← {"type":"sealed-state","data":"BASE64"}             to a sealed hello
/// ← {"type":"beat"}                                     every 2 s, the same to everyone
/// ```
/// The beat lets a page tell a silent node (a laptop whose battery died: no connection is
/// reset) from a quiet meeting: a page that hears nothing for 6 s checks once and moves to
/// another laptop of the session (docs/replication.md, "Failure modes"). The other way, the
/// node pings every page (WebSocket pings, which browsers answer by themselves) and lets go
/// of one that stops answering.
/// A hello that is missing, late (5 s), too large (4 KiB) or wrong closes the socket with
/// code 4401 and a reason. A page sends nothing after its hello, so any later message
/// closes the socket too (a client sending as fast as it can costs the node one read).
enum LiveSocket {
    static let helloTimeout: Duration = .seconds(5)
    static let maxMessage = 4096
    static let beat: Duration = .seconds(2)
    static let beatMessage = #"{"type":"beat"}"#

    static func serve(inbound: WebSocketInboundStream, outbound: WebSocketOutboundWriter, address: String, room: MeetingRoom) async throws {
        let (hellos, helloSink) = AsyncStream<MeetingRoom.Audience?>.makeStream()
        try await withThrowingTaskGroup(of: Void.self) { group in
            group.addTask {
                defer { helloSink.finish() }
                var answered = false
                for try await message in inbound.messages(maxSize: maxMessage) {
                    if answered { return }
                    answered = true
                    helloSink.yield(await audience(for: message, address: address, room: room))
                }
            }
            group.addTask {
                guard let audience = await firstHello(hellos) else {
                    try await outbound.close(.unknown(4401), reason: "Send a hello with a token or the facilitator's secret first.")
                    return
                }
                let (id, states) = await room.subscribe(audience)
                do {
                    try await withThrowingTaskGroup(of: Void.self) { live in
                        live.addTask {
                            for await text in states { try await outbound.write(.text(text)) }
                        }
                        live.addTask {
                            while true {
                                try await Task.sleep(for: beat)
                                try await outbound.write(.text(beatMessage))
                            }
                        }
                        try await live.next()
                        live.cancelAll()
                    }
                } catch {
                    await room.unsubscribe(id)
                    throw error
                }
                await room.unsubscribe(id)
            }
            try await group.next()
            group.cancelAll()
        }
    }

    /// The first hello's audience, or nil when none came in time or it was refused.
    static func firstHello(_ hellos: AsyncStream<MeetingRoom.Audience?>) async -> MeetingRoom.Audience? {
        let first = try? await withTimeout(helloTimeout) { () -> MeetingRoom.Audience? in
            for await hello in hellos { return hello }
            return nil
        }
        return first ?? nil
    }

    static func audience(for message: WebSocketMessage, address: String, room: MeetingRoom) async -> MeetingRoom.Audience? {
        guard case .text(let text) = message,
            case .object(let fields)? = try? JSONDecoder().decode(JSONValue.self, from: Data(text.utf8)),
            fields["type"] == .string("hello")
        else { return nil }
        // Anyone may follow the sealed view: it opens only with the key of a sealed join.
        if fields["sealed"] == .bool(true) { return .sealedParticipant }
        if case .string(let token)? = fields["token"] {
            return await room.registry.knows(token) ? .participant : nil
        }
        if case .string(let secret)? = fields["facilitator"] {
            return await room.throttle.check(secret, against: [room.access.facilitatorSecret], kind: .secret, from: address) == .right
                ? .facilitator : nil
        }
        if case .string(let key)? = fields["screen"] {
            return await room.throttle.check(
                key, against: [room.links.screenKey, room.access.facilitatorSecret], kind: .secret, from: address) == .right ? .screen : nil
        }
        return nil
    }
}
