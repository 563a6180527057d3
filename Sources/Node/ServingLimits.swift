import Foundation
import Hummingbird
import HummingbirdCore
import HummingbirdWebSocket
import Logging
import NIOConcurrencyHelpers
import NIOCore

/// What one client may take from a node, so that a flood of connections, clients that never
/// finish a request, oversized frames or a client sending as fast as it can do not stop the
/// node serving everyone else (docs/limits.md). Addresses are counted in memory only and never
/// logged or stored.
public struct ServingLimits: Sendable {
    /// Open connections from one address; more are closed as soon as they are accepted.
    /// A phone's browser opens at most six, plus the live socket.
    public var connectionsPerAddress = 32
    /// Open connections in all; beyond it the node stops accepting until some close.
    public var connections = 4096
    /// Time for a new connection to send its first request's head.
    public var firstRequestDeadline: Duration = .seconds(10)
    /// Time a kept-alive connection may stay idle, or take to send a later request's head.
    public var idleTimeout: Duration = .seconds(30)
    /// Time to send a request's body (bodies are at most 16 KiB).
    public var bodyDeadline: Duration = .seconds(10)
    /// Requests per second from one address, sustained, and the burst allowed above it.
    public var requestsPerSecond = 20.0
    public var requestBurst = 100.0
    /// The largest WebSocket message a page may send (its hello).
    public var webSocketFrame = LiveSocket.maxMessage

    public init() {}

    /// Requests from this laptop itself (the facilitator's own browser: console, projector)
    /// are not limited per address: whoever uses this machine holds its data folder anyway.
    /// Every other address, including the rest of 127.0.0.0/8, is.
    static func isThisMachine(_ address: String) -> Bool { address == "127.0.0.1" || address == "::1" }

    /// Raises this process's open-file limit to its hard limit, so `connections` fit.
    public static func raiseFileLimit() {
        var limit = rlimit()
        guard getrlimit(__rlimit_resource_t(RLIMIT_NOFILE.rawValue), &limit) == 0, limit.rlim_cur < limit.rlim_max else { return }
        limit.rlim_cur = limit.rlim_max
        _ = setrlimit(__rlimit_resource_t(RLIMIT_NOFILE.rawValue), &limit)
    }
}

extension Host {
    /// The node's HTTP and WebSocket server, with every serving limit in place.
    public static func server(router: Router<NodeContext>, limits: ServingLimits) -> HTTPServerBuilder {
        let gate = ConnectionGate(limits: limits)
        let responder = router.buildResponder()
        return HTTPServerBuilder { httpResponder in
            GuardedChannel(
                gate: gate,
                base: HTTP1WebSocketUpgradeChannel(
                    responder: httpResponder, webSocketResponder: responder,
                    configuration: .init(
                        http1: .init(idleTimeout: TimeAmount(limits.idleTimeout)),
                        // Browsers answer pings by themselves: a page that stops answering (a phone
                        // that left the hall) is let go within two periods.
                        ws: .init(maxFrameSize: limits.webSocketFrame, autoPing: .enabled(timePeriod: .seconds(10))))))
        }
    }

    /// The server's configuration: address and the total connection limit.
    public static func serverConfiguration(bind: String, port: Int, limits: ServingLimits) -> ApplicationConfiguration {
        ApplicationConfiguration(
            address: .hostname(bind, port: port), serverName: nil,
            availableConnectionsDelegate: MaximumAvailableConnections(limits.connections))
    }
}
