import Discovery
import Foundation
import Meeting

/// How this node shows itself on the hall's network, and what it sees of the others.
///
/// What is announced is neutral (anonymity invariant 5): the instance name is `halqa-` and a
/// short code unless the facilitator chooses one, and the TXT records hold only the protocol
/// version, an opaque tag of the session and an opaque tag of the node *in that session*;
/// never its title, group or topic, and nothing that is the same from one meeting to the
/// next, so a laptop cannot be recognised across halls (docs/discovery.md).
public enum Presence {
    public static let serviceType = "_halqa._tcp"
    public static let protocolVersion = "1"

    /// The neutral name a node gives itself when it asks to join (seen only by the host it
    /// asks, over TLS): `halqa-` and four characters of its key's fingerprint.
    public static func defaultName(for key: PublicKey) -> String {
        "halqa-" + key.fingerprint.prefix(4).lowercased()
    }

    /// The neutral name announced on the LAN for a session: `halqa-` and four characters of
    /// the node's tag in that session, so it changes from one meeting to the next.
    public static func announcedName(for key: PublicKey, in session: EventID) -> String {
        "halqa-" + nodeTag(of: key, in: session).prefix(4)
    }

    /// An opaque tag for a session: the same on every node that holds it, and saying nothing
    /// of it to anyone who does not.
    public static func tag(of session: EventID) -> String {
        String(EventID.of(Array("halqa session tag v1".utf8) + session.bytes).hex.prefix(12))
    }

    /// An opaque tag for a node in one session: nodes that hold the session (and know the
    /// node's key) recognise it; anyone else sees a value that is new at every meeting.
    public static func nodeTag(of key: PublicKey, in session: EventID) -> String {
        String(EventID.of(Array("halqa node tag v1".utf8) + session.bytes + key.raw).hex.prefix(12))
    }

    static func txt(key: PublicKey, session: EventID) -> [String: String] {
        ["v": protocolVersion, "s": tag(of: session), "n": nodeTag(of: key, in: session)]
    }

    /// A name or message from another machine, fit to print on a terminal: control and
    /// formatting characters (escape sequences, bidirectional overrides) are removed, and at
    /// most 64 characters kept.
    public static func printable(_ text: String) -> String {
        let kept = text.unicodeScalars.filter { scalar in
            switch scalar.properties.generalCategory {
            case .control, .format, .lineSeparator, .paragraphSeparator, .surrogate, .privateUse, .unassigned: false
            default: true
            }
        }
        let clean = String(String.UnicodeScalarView(kept))
        return clean.count > 64 ? String(clean.prefix(63)) + "…" : clean
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
    /// As announced, with control characters removed (``Presence/printable(_:)``).
    public var name: String
    public var address: String
    public var port: Int
    /// The node's opaque tag in the session it holds (new at every meeting).
    public var node: String?
    /// The opaque tag of the session it hosts, if it hosts one.
    public var session: String?
    public var protocolVersion: String?

    init(_ service: DiscoveredService) {
        name = Presence.printable(service.name)
        address = service.address
        port = service.port
        node = service.txt["n"].map(Presence.printable)
        session = service.txt["s"].map(Presence.printable)
        protocolVersion = service.txt["v"].map(Presence.printable)
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
        async let answered: Bool = {
            for await event in browser.events {
                switch event {
                case .settled, .appeared: return true
                default: continue
                }
            }
            return false
        }()
        try? await Task.sleep(for: .milliseconds(Int(timeout * 1000)))
        let services = browser.services
        browser.stop()
        guard await answered || !services.isEmpty else { return .noDaemon }
        return .found(services.map(NearbyNode.init).sorted { $0.name < $1.name })
    }
}
