#if canImport(Glibc)
import Glibc
#endif

/// The IPv4 addresses of this machine's network interfaces that are up, loopback last.
enum LANAddress {
    static func all() -> [String] {
        var head: UnsafeMutablePointer<ifaddrs>?
        guard getifaddrs(&head) == 0, let first = head else { return [] }
        defer { freeifaddrs(head) }
        var lan: [String] = [], loopback: [String] = []
        var cursor: UnsafeMutablePointer<ifaddrs>? = first
        while let entry = cursor {
            defer { cursor = entry.pointee.ifa_next }
            let flags = Int32(entry.pointee.ifa_flags)
            guard let address = entry.pointee.ifa_addr, address.pointee.sa_family == UInt8(AF_INET),
                  flags & Int32(IFF_UP) != 0 else { continue }
            var host = [CChar](repeating: 0, count: Int(NI_MAXHOST))
            guard getnameinfo(address, socklen_t(MemoryLayout<sockaddr_in>.size), &host, socklen_t(host.count), nil, 0, NI_NUMERICHOST) == 0 else { continue }
            let text = String(decoding: host.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
            if flags & Int32(IFF_LOOPBACK) != 0 { loopback.append(text) } else { lan.append(text) }
        }
        return lan + loopback
    }

    /// The address to print for participants: the bound one, else the first LAN address.
    static func forParticipants(bind: String) -> String {
        if bind != "0.0.0.0" && bind != "::" { return bind }
        return all().first ?? "127.0.0.1"
    }
}
