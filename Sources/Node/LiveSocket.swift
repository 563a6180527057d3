import Foundation
import HummingbirdWebSocket
import Meeting
import NIOCore

/// The live connection of a page: the page sends one hello saying who it is, then the node
/// pushes each new state until either side goes away.
///
/// ```
/// → {"type":"hello","sealed":true,"since":"EPOCH.V","deflate":true}
///                                                       a participant's page: the room's view, sealed with the view key
/// → {"type":"hello","token":"..."}                      a participant, by token (scripts; pages never send it)
/// → {"type":"hello","facilitator":"..."}                the console, with the facilitator's secret
/// → {"type":"hello","screen":"..."}                     the projector, with its own read-only key
/// ← {"type":"state"|"console"|"screen","data":{...}}    now, then after every change
/// ← binary: nonce · secretbox(view or change)           to a sealed hello (``RoomFeed``)
/// ← {"type":"beat"}                                     every 2 s, the same to everyone
/// ```
/// A sealed hello's `since` names the version of the room's view the page holds (from the
/// view's `epoch` and `version`); the node then sends what changed since (``RoomDelta``), or
/// nothing if it is the current one, and after that what changed each time the room changes.
/// Without `since`, or with a version this node does not know, the first is the whole view.
/// With `deflate`, what is sealed is the JSON in zlib's format when that is smaller (its
/// first byte 0x78, where JSON's is `{`), as every page of this version asks.
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
        let (hellos, helloSink) = AsyncStream<Hello?>.makeStream()
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
                guard let hello = await firstHello(hellos) else {
                    try await outbound.close(.unknown(4401), reason: "Send a hello with a token or the facilitator's secret first.")
                    return
                }
                let (id, states) = await room.subscribe(hello.audience)
                do {
                    try await withThrowingTaskGroup(of: Void.self) { live in
                        live.addTask {
                            var held = hello.since
                            for await state in states {
                                switch state {
                                case .text(let text): try await outbound.write(.text(text))
                                case .roomChanged:
                                    guard let (sealed, version) = await room.sealedUpdate(since: held, deflated: hello.deflated)
                                    else { continue }
                                    held = version
                                    try await outbound.write(.binary(ByteBuffer(bytes: sealed)))
                                }
                            }
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

    /// Who said hello, and (a sealed participant's page) the version of the room's view it holds.
    struct Hello: Sendable {
        var audience: MeetingRoom.Audience
        var since: HeldView? = nil
        var deflated = false
    }

    /// The first hello, or nil when none came in time or it was refused.
    static func firstHello(_ hellos: AsyncStream<Hello?>) async -> Hello? {
        let first = try? await withTimeout(helloTimeout) { () -> Hello? in
            for await hello in hellos { return hello }
            return nil
        }
        return first ?? nil
    }

    static func audience(for message: WebSocketMessage, address: String, room: MeetingRoom) async -> Hello? {
        guard case .text(let text) = message,
            case .object(let fields)? = JSONValue(json: text.utf8),
            fields["type"] == .string("hello")
        else { return nil }
        // Anyone may follow the sealed view: it opens only with the key of a sealed join.
        if fields["sealed"] == .bool(true) {
            let since: HeldView? = if case .string(let since)? = fields["since"] { HeldView(since) } else { nil }
            return Hello(audience: .sealedParticipant, since: since, deflated: fields["deflate"] == .bool(true))
        }
        if case .string(let token)? = fields["token"] {
            return await room.registry.knows(token) ? Hello(audience: .participant) : nil
        }
        if case .string(let secret)? = fields["facilitator"] {
            return await room.throttle.check(secret, against: [room.access.facilitatorSecret], kind: .secret, from: address) == .right
                ? Hello(audience: .facilitator) : nil
        }
        if case .string(let key)? = fields["screen"] {
            return await room.throttle.check(
                key, against: [room.links.screenKey, room.access.facilitatorSecret], kind: .secret, from: address) == .right
                ? Hello(audience: .screen) : nil
        }
        return nil
    }
}
