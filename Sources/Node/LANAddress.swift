import NIOCore

/// The IPv4 addresses of this machine's network interfaces, loopback last.
enum LANAddress {
    static func all() -> [String] {
        let addresses = ((try? System.enumerateDevices()) ?? []).compactMap { device -> String? in
            guard case .v4? = device.address else { return nil }
            return device.address?.ipAddress
        }
        let unique = addresses.reduce(into: [String]()) { if !$0.contains($1) { $0.append($1) } }
        return unique.filter { !$0.hasPrefix("127.") } + unique.filter { $0.hasPrefix("127.") }
    }

    /// The address to print for participants: the bound one, else the first LAN address.
    static func forParticipants(bind: String) -> String {
        if bind != "0.0.0.0" && bind != "::" { return bind }
        return all().first ?? "127.0.0.1"
    }
}
