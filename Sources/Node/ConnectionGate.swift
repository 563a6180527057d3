import HummingbirdCore
import Logging
import NIOConcurrencyHelpers
import NIOCore

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
            try channel.pipeline.syncOperations.addHandler(
                FirstRequestDeadline(deadline: TimeAmount(gate.limits.firstRequestDeadline)), position: .first)
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
