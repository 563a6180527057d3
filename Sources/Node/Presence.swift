import Discovery
import Foundation
import Meeting

/// How this node shows itself on the hall's network, and what it sees of the others.
///
/// What is announced is neutral (anonymity invariant 5): the instance name is `halqa-` and a
/// short code unless the facilitator chooses one, and the TXT records hold only the protocol
/// version, a fingerprint of the node's key and an opaque tag of the session; never its
/// title, group or topic (docs/discovery.md).
public enum Presence {
    public static let serviceType = "_halqa._tcp"
    public static let protocolVersion = "1"

    /// The neutral default name: `halqa-` and four characters of the node key's fingerprint.
    public static func defaultName(for key: PublicKey) -> String {
        "halqa-" + key.fingerprint.prefix(4).lowercased()
    }

    /// An opaque tag for a session: the same on every node that holds it, and saying nothing
    /// of it to anyone who does not.
    public static func tag(of session: EventID) -> String {
        String(EventID.of(Array("halqa session tag v1".utf8) + session.bytes).hex.prefix(12))
    }

    static func txt(key: PublicKey, session: EventID?) -> [String: String] {
        var txt = ["v": protocolVersion, "fp": key.fingerprint]
        if let session { txt["s"] = tag(of: session) }
        return txt
    }

    /// The advice printed when avahi-daemon is not running.
    public static func noDaemonAdvice(address: String?) -> String {
        "avahi-daemon is not running, so other nodes cannot find this one automatically. "
            + "Start it with `sudo systemctl start avahi-daemon` (install it with `sudo apt-get install avahi-daemon`)"
            + (address.map { ", or give them this address: \($0)" } ?? ".")
    }
}

/// A Halqa node seen on the LAN.
public struct NearbyNode: Sendable, Hashable, Codable {
    public var name: String
    public var address: String
    public var port: Int
    public var fingerprint: String?
    /// The opaque tag of the session it hosts, if it hosts one.
    public var session: String?
    public var protocolVersion: String?

    init(_ service: DiscoveredService) {
        name = service.name
        address = service.address
        port = service.port
        fingerprint = service.txt["fp"]
        session = service.txt["s"]
        protocolVersion = service.txt["v"]
    }
}

/// Lists the Halqa nodes on the LAN (`halqa list`).
public enum NodeFinder {
    public enum Result: Sendable {
        case found([NearbyNode])
        case noDaemon
    }

    /// Browses for `timeout` seconds and returns what answered.
    public static func list(timeout: Double) async throws -> Result {
        let browser = try Browser(type: Presence.serviceType)
        // The daemon answered if browsing ever settled (Avahi's "all for now") or found anything.
        let answered = Task {
            for await event in browser.events {
                switch event {
                case .settled, .appeared: return true
                default: continue
                }
            }
            return false
        }
        try? await Task.sleep(for: .milliseconds(Int(timeout * 1000)))
        let services = browser.services
        browser.stop()
        guard await answered.value || !services.isEmpty else { return .noDaemon }
        return .found(services.map(NearbyNode.init).sorted { $0.name < $1.name })
    }
}
