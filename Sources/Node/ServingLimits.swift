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
            GuardedChannel(gate: gate, base: HTTP1WebSocketUpgradeChannel(
                responder: httpResponder, webSocketResponder: responder,
                configuration: .init(http1: .init(idleTimeout: TimeAmount(limits.idleTimeout)),
                                     ws: .init(maxFrameSize: limits.webSocketFrame))))
        }
    }

    /// The server's configuration: address and the total connection limit.
    public static func serverConfiguration(bind: String, port: Int, limits: ServingLimits) -> ApplicationConfiguration {
        ApplicationConfiguration(address: .hostname(bind, port: port), serverName: nil,
                                 availableConnectionsDelegate: MaximumAvailableConnections(limits.connections))
    }
}

extension TimeAmount {
    init(_ duration: Duration) {
        let (seconds, attoseconds) = duration.components
        self = .nanoseconds(seconds * 1_000_000_000 + attoseconds / 1_000_000_000)
    }
}

/// Counts open connections per address and refuses those over the limit.
final class ConnectionGate: Sendable {
    let limits: ServingLimits
    private let open = NIOLockedValueBox<[String: Int]>([:])

    init(limits: ServingLimits) { self.limits = limits }

    /// Takes a place for a new connection from `address`, or says there is none.
    func enter(_ address: String) -> Bool {
        if ServingLimits.isThisMachine(address) { return true }
        return open.withLockedValue { counts in
            let now = counts[address, default: 0]
            guard now < limits.connectionsPerAddress else { return false }
            counts[address] = now + 1
            return true
        }
    }

    func leave(_ address: String) {
        if ServingLimits.isThisMachine(address) { return }
        open.withLockedValue { counts in
            let now = counts[address, default: 1] - 1
            counts[address] = now > 0 ? now : nil
        }
    }
}

/// Wraps the HTTP/WebSocket child channel: a connection over its address's limit is closed at
/// once, and one that has not sent its first request's head in time is closed then.
struct GuardedChannel<Base: ServerChildChannel>: ServerChildChannel {
    typealias Value = Base.Value
    let gate: ConnectionGate
    let base: Base

    struct Refused: Error {}

    func setup(channel: any Channel, logger: Logger) -> EventLoopFuture<Value> {
        let address = channel.remoteAddress?.ipAddress ?? "unknown"
        guard gate.enter(address) else {
            channel.close(promise: nil)
            return channel.eventLoop.makeFailedFuture(Refused())
        }
        channel.closeFuture.whenComplete { _ in gate.leave(address) }
        do {
            try channel.pipeline.syncOperations.addHandler(FirstRequestDeadline(deadline: TimeAmount(gate.limits.firstRequestDeadline)), position: .first)
        } catch {
            channel.close(promise: nil)
            return channel.eventLoop.makeFailedFuture(error)
        }
        return base.setup(channel: channel, logger: logger)
    }

    func handle(value: Value, logger: Logger) async {
        await base.handle(value: value, logger: logger)
    }
}

/// Closes a connection whose first request head (up to the blank line) has not arrived within
/// the deadline: a client that opens connections and sends nothing, or a byte at a time, holds
/// a place only that long. Later requests are timed by the HTTP idle timeout.
final class FirstRequestDeadline: ChannelInboundHandler, RemovableChannelHandler {
    typealias InboundIn = ByteBuffer
    typealias InboundOut = ByteBuffer

    let deadline: TimeAmount
    private var timer: Scheduled<Void>?
    private var tail: [UInt8] = []
    private var done = false

    init(deadline: TimeAmount) { self.deadline = deadline }

    func handlerAdded(context: ChannelHandlerContext) {
        let loopContext = NIOLoopBound(context, eventLoop: context.eventLoop)
        timer = context.eventLoop.scheduleTask(in: deadline) { loopContext.value.close(promise: nil) }
    }

    func handlerRemoved(context: ChannelHandlerContext) { timer?.cancel() }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        if !done {
            let buffer = unwrapInboundIn(data)
            tail += buffer.readableBytesView
            if tail.count > 3, tail.indices.dropLast(3).contains(where: { tail[$0] == 13 && tail[$0 + 1] == 10 && tail[$0 + 2] == 13 && tail[$0 + 3] == 10 }) {
                done = true
                timer?.cancel()
                tail = []
            } else {
                tail = Array(tail.suffix(3))
            }
        }
        context.fireChannelRead(data)
    }
}

/// Slows down one address that sends requests faster than any page would: a token bucket
/// per address, held in memory only (at most a few thousand addresses, pruned after a minute).
final class RequestRate: Sendable {
    private let buckets = NIOLockedValueBox<[String: TokenBucket]>([:])
    let rate: Double, burst: Double

    init(limits: ServingLimits) {
        rate = limits.requestsPerSecond
        burst = limits.requestBurst
    }

    func allow(_ address: String) -> Bool {
        if ServingLimits.isThisMachine(address) { return true }
        let now = ContinuousClock.now
        return buckets.withLockedValue { buckets in
            if buckets.count > 5000 {
                buckets = buckets.filter { now - $0.value.updated < .seconds(60) }
            }
            var bucket = buckets[address] ?? TokenBucket(burst: burst, now: now)
            let allowed = bucket.take(burst: burst, rate: rate, now: now)
            buckets[address] = bucket
            return allowed
        }
    }
}

/// Before any route: answers 429 to an address over its request rate, and reads a request's
/// body (at most 16 KiB) within the body deadline, so a client trickling a body holds nothing
/// for long.
struct ServingMiddleware<Context: RemoteAddressRequestContext>: RouterMiddleware {
    let rate: RequestRate
    let bodyDeadline: Duration

    init(limits: ServingLimits) {
        rate = RequestRate(limits: limits)
        bodyDeadline = limits.bodyDeadline
    }

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        guard rate.allow(context.remoteAddress?.ipAddress ?? "unknown") else { throw APIError.slowDown }
        guard request.method == .post || request.method == .put || request.method == .patch else { return try await next(request, context) }
        if let length = request.headers[.contentLength].flatMap({ Int($0) }), length > JSONBody.limit { throw APIError.tooLarge }
        var request = request
        let body = request.body, deadline = bodyDeadline
        let buffer = try await withThrowingTaskGroup(of: ByteBuffer?.self) { group in
            group.addTask {
                do {
                    return try await body.collect(upTo: JSONBody.limit)
                } catch let error as any HTTPResponseError where error.status == .contentTooLarge {
                    throw APIError.tooLarge
                }
            }
            group.addTask {
                try await Task.sleep(for: deadline)
                return nil
            }
            defer { group.cancelAll() }
            guard let first = try await group.next(), let buffer = first else { throw APIError.tooSlow }
            return buffer
        }
        request.body = RequestBody(buffer: buffer)
        return try await next(request, context)
    }
}
