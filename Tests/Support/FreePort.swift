#if canImport(Glibc)
    import Glibc
#endif

/// A TCP port on loopback that nothing listens on now (the kernel's choice; a test that
/// starts a server on it right away rarely loses it to another).
public func freePort() -> Int {
    let (fd, port) = boundSocket(port: 0)
    close(fd)
    return port
}

/// A socket listening on 127.0.0.1:`port`, as another program holding that port would,
/// until it is deinitialised; `port` is nil when the port was taken already.
public final class ListeningSocket {
    public let port: Int?
    private let fd: Int32

    public init(port: Int) {
        let (fd, bound) = boundSocket(port: port)
        self.fd = fd
        self.port = bound == port && listen(fd, 1) == 0 ? port : nil
    }

    deinit { close(fd) }
}

/// A TCP socket bound to 127.0.0.1:`port` (0 for the kernel's choice), and the port it holds (0 if none).
private func boundSocket(port: Int) -> (Int32, Int) {
    let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
    var address = sockaddr_in()
    address.sin_family = sa_family_t(AF_INET)
    address.sin_addr.s_addr = inet_addr("127.0.0.1")
    address.sin_port = UInt16(port).bigEndian
    var length = socklen_t(MemoryLayout<sockaddr_in>.size)
    let bound = withUnsafeMutablePointer(to: &address) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, length) } }
    guard bound == 0 else { return (fd, 0) }
    _ = withUnsafeMutablePointer(to: &address) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(fd, $0, &length) } }
    return (fd, Int(UInt16(bigEndian: address.sin_port)))
}
