import Discovery
import Foundation
import Meeting
import ServiceLifecycle

/// Announces the node on the LAN while it serves, and reports the other Halqa nodes it sees,
/// one line each, through `say`. Withdraws the announcement when the node stops, so peers
/// see it leave at once.
struct PresenceService: Service {
    let name: String
    let key: PublicKey
    let session: EventID
    /// The port, once the server listens.
    let listening: AsyncStream<Int>
    /// The port other nodes call, once it listens.
    let peerListening: AsyncStream<Int>
    let participantURL: String
    let say: @Sendable (String) -> Void
    /// Called with each Halqa node seen: its node tag, address and peer port (a hint only).
    let seen: @Sendable (String, String, Int) async -> Void

    func run() async throws {
        var ports = listening.makeAsyncIterator()
        guard let port = await ports.next() else { return }
        var peerPorts = peerListening.makeAsyncIterator()
        let peerPort = await peerPorts.next()
        let myTag = Presence.nodeTag(of: key, in: session)
        var txt = Presence.txt(key: key, session: session)
        if let peerPort { txt["pp"] = String(peerPort) }
        let advertiser: Advertiser
        let browser: Browser
        do {
            advertiser = try Advertiser(
                AdvertisedService(
                    name: name, type: Presence.serviceType, port: UInt16(port),
                    txt: txt))
            browser = try Browser(type: Presence.serviceType)
        } catch {
            say("This node cannot be announced on the network (\(error.message)). " + Presence.noDaemonAdvice(address: participantURL))
            try? await gracefulShutdown()
            return
        }
        let url = participantURL
        let say = self.say
        let seen = self.seen
        await withTaskGroup(of: Void.self) { group in
            group.addTask {
                var waiting = false
                for await status in advertiser.statuses {
                    switch status {
                    case .waitingForDaemon where !waiting:
                        waiting = true
                        say(Presence.noDaemonAdvice(address: url))
                    case .established(let name):
                        say(
                            waiting
                                ? "avahi-daemon is running again: announced as \"\(name)\"."
                                : "Announced on this network as \"\(name)\"; other Halqa nodes can find it.")
                        waiting = false
                    case .failed(let message):
                        say("Announcing this node failed: \(message).")
                    default:
                        break
                    }
                }
            }
            group.addTask {
                for await event in browser.events {
                    switch event {
                    case .appeared(let service) where service.txt["n"] != myTag,
                        .changed(let service) where service.txt["n"] != myTag:
                        // Names come from any machine on the LAN: printed without control characters.
                        let shown = Presence.printable(service.name)
                        if case .appeared = event {
                            say("Nearby: \(shown) at \(service.address):\(service.port)")
                        } else {
                            say("Changed: \(shown) at \(service.address):\(service.port)")
                        }
                        if let tag = service.txt["n"], let pp = service.txt["pp"].flatMap(Int.init) { await seen(tag, service.address, pp) }
                    case .disappeared(let name) where name != advertiser.name:
                        say("Gone: \(Presence.printable(name))")
                    default:
                        break
                    }
                }
            }
            group.addTask {
                try? await gracefulShutdown()
                advertiser.stop()
                browser.stop()
            }
        }
    }
}
