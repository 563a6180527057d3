import Foundation
import HalqaTestSupport

@testable import Meeting

#if canImport(Glibc)
    import Glibc
#endif

/// A TCP connection from a chosen loopback address (127.0.0.x), written byte by byte: what an
/// abusive client does, which no well-behaved HTTP library will. Blocking; use it inside
/// ``onThread(_:)``.
final class RawConnection {
    let fd: Int32

    /// Connects from `source` to 127.0.0.1:`port`, or throws.
    /// `receiveTimeout` bounds each wait for bytes; it is long by default because a node
    /// under test shares this machine with every other test and may answer late.
    init(from source: String, to port: Int, receiveTimeout: Double = 60) throws {
        fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard fd >= 0 else { throw Failure("socket: \(errno)") }
        var local = sockaddr_in()
        local.sin_family = sa_family_t(AF_INET)
        inet_pton(AF_INET, source, &local.sin_addr)
        var remote = sockaddr_in()
        remote.sin_family = sa_family_t(AF_INET)
        remote.sin_port = in_port_t(UInt16(port).bigEndian)
        inet_pton(AF_INET, "127.0.0.1", &remote.sin_addr)
        var timeout = timeval(tv_sec: Int(receiveTimeout), tv_usec: Int((receiveTimeout - receiveTimeout.rounded(.down)) * 1_000_000))
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
        let bound = withUnsafePointer(to: &local) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        }
        guard bound == 0 else {
            close(fd)
            throw Failure("bind \(source): \(errno)")
        }
        let connected = withUnsafePointer(to: &remote) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        }
        guard connected == 0 else {
            close(fd)
            throw Failure("connect: \(errno)")
        }
    }

    deinit { close(fd) }

    func send(_ bytes: [UInt8]) {
        var offset = 0
        while offset < bytes.count {
            let n = bytes[offset...].withUnsafeBytes { Glibc.send(fd, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }
            if n <= 0 { return }
            offset += n
        }
    }

    func send(_ text: String) { send(Array(text.utf8)) }

    /// What arrives until the peer closes or `timeout` passes; `closed` says the peer closed.
    func receiveAll() -> (bytes: [UInt8], closed: Bool) {
        var out: [UInt8] = []
        var buffer = [UInt8](repeating: 0, count: 65536)
        while true {
            let n = buffer.withUnsafeMutableBytes { recv(fd, $0.baseAddress, $0.count, 0) }
            if n > 0 {
                out += buffer[0..<n]
                continue
            }
            return (out, n == 0 || (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK))
        }
    }

    /// What arrives until it contains `needle`, the peer closes, or `seconds` pass.
    func receive(until needle: String, seconds: Double = 60) -> (text: String, closed: Bool) {
        var out: [UInt8] = []
        var buffer = [UInt8](repeating: 0, count: 65536)
        let deadline = Date().addingTimeInterval(seconds)
        while Date() < deadline {
            if String(decoding: out, as: UTF8.self).contains(needle) { return (String(decoding: out, as: UTF8.self), false) }
            let n = buffer.withUnsafeMutableBytes { recv(fd, $0.baseAddress, $0.count, 0) }
            if n > 0 {
                out += buffer[0..<n]
                continue
            }
            if n == 0 || (errno != EAGAIN && errno != EWOULDBLOCK) { return (String(decoding: out, as: UTF8.self), true) }
        }
        return (String(decoding: out, as: UTF8.self), false)
    }

    /// Reads one HTTP response (headers and a Content-Length body); nil if the peer closed first.
    func receiveResponse() -> (status: Int, body: String)? {
        var data: [UInt8] = []
        var buffer = [UInt8](repeating: 0, count: 65536)
        while true {
            if let end = data.firstRange(of: [13, 10, 13, 10]) {
                let head = String(decoding: data[..<end.lowerBound], as: UTF8.self)
                let length =
                    head.split(separator: "\r\n").first { $0.lowercased().hasPrefix("content-length:") }
                    .flatMap { Int($0.split(separator: ":")[1].trimmingCharacters(in: .whitespaces)) } ?? 0
                if data.count - end.upperBound >= length {
                    let status = Int(head.split(separator: " ")[1]) ?? 0
                    return (status, String(decoding: data[end.upperBound..<(end.upperBound + length)], as: UTF8.self))
                }
            }
            let n = buffer.withUnsafeMutableBytes { recv(fd, $0.baseAddress, $0.count, 0) }
            if n <= 0 { return nil }
            data += buffer[0..<n]
        }
    }

    /// Sends one request on this (kept-alive) connection and reads its response.
    func request(_ method: String, _ path: String, json: String? = nil, token: String? = nil) -> (status: Int, body: String)? {
        var head = "\(method) \(path) HTTP/1.1\r\nHost: node\r\n"
        if let token { head += "Authorization: Bearer \(token)\r\n" }
        if let json { head += "Content-Type: application/json\r\nContent-Length: \(json.utf8.count)\r\n" }
        send(head + "\r\n" + (json ?? ""))
        return receiveResponse()
    }

    struct Failure: Error, CustomStringConvertible {
        let description: String
        init(_ d: String) { description = d }
    }
}

/// Threads of its own for a node under test, so that its timing (deadlines, rates) does not
/// depend on CPU-heavy tests running at the same time on Swift concurrency's few shared
/// threads. Tasks started under `withTaskExecutorPreference(DedicatedExecutor.shared)`, their
/// child tasks, and actors without an executor of their own run here: four threads of the kind
/// an import verifies its files on.
enum DedicatedExecutor {
    static let shared = VerifyingExecutor(threads: 4)
}
