import CAvahi

/// Why discovery could not start.
public struct DiscoveryError: Error, CustomStringConvertible, Sendable {
    public let message: String
    public var description: String { message }
}

/// One connection to avahi-daemon over D-Bus, with its own event-loop thread
/// (`AvahiThreadedPoll`). It survives the daemon being absent or restarting: it waits for it
/// (`AVAHI_CLIENT_NO_FAIL`) and, when it returns, reports `.running` again.
///
/// Threading: avahi calls every callback on the poll's thread while holding the poll's lock.
/// Code on any other thread that touches avahi objects, or this object's state, must hold the
/// same lock (``withLock(_:)``). `@unchecked Sendable` is safe for that reason: all mutable
/// state is reached only on the poll thread or under its lock.
final class AvahiConnection: @unchecked Sendable {
    enum State {
        /// The daemon is there; `client` may be used to publish and browse.
        case running(OpaquePointer)
        /// The daemon is not (or no longer) there; every object made with the old client is gone.
        case waitingForDaemon
        /// The daemon is re-registering its host name; entry groups should be reset.
        case registering
        case failed(String)
    }

    private let poll: OpaquePointer
    private var client: OpaquePointer?
    private let onState: (State) -> Void
    private var stopped = false

    /// Connects (or starts waiting for the daemon). `onState` is called on the poll thread,
    /// with the lock held, possibly before this returns.
    init(onState: @escaping (State) -> Void) throws(DiscoveryError) {
        guard let poll = avahi_threaded_poll_new() else {
            throw DiscoveryError(message: "Cannot start Avahi's event loop (out of memory?).")
        }
        self.poll = poll
        self.onState = onState
        if !connect() {
            // Not even the system bus is there yet: say so, and try again every few seconds.
            onState(.waitingForDaemon)
            retryLater()
        }
        guard avahi_threaded_poll_start(poll) >= 0 else {
            avahi_client_free(client)
            avahi_threaded_poll_free(poll)
            throw DiscoveryError(message: "Cannot start Avahi's event loop thread.")
        }
    }

    /// Makes a client; false when not even D-Bus can be reached (then nothing was made).
    private func connect() -> Bool {
        var error: Int32 = 0
        let made = avahi_client_new(
            avahi_threaded_poll_get(poll), AVAHI_CLIENT_NO_FAIL,
            { client, state, userdata in
                Unmanaged<AvahiConnection>.fromOpaque(userdata!).takeUnretainedValue().changed(client, state)
            }, Unmanaged.passUnretained(self).toOpaque(), &error)
        client = made ?? client
        return made != nil
    }

    static let retryInterval = 2

    /// Tries to connect again after a while, on the poll thread, until it works or stops.
    private func retryLater() {
        let api = avahi_threaded_poll_get(poll)!
        var when = timeval()
        avahi_elapse_time(&when, UInt32(Self.retryInterval * 1000), 0)
        _ = api.pointee.timeout_new(
            api, &when,
            { timeout, userdata in
                let connection = Unmanaged<AvahiConnection>.fromOpaque(userdata!).takeUnretainedValue()
                let api = avahi_threaded_poll_get(connection.poll)!
                if connection.stopped || connection.connect() {
                    api.pointee.timeout_free(timeout)
                } else {
                    var when = timeval()
                    avahi_elapse_time(&when, UInt32(AvahiConnection.retryInterval * 1000), 0)
                    api.pointee.timeout_update(timeout, &when)
                }
            }, Unmanaged.passUnretained(self).toOpaque())
    }

    private func changed(_ client: OpaquePointer?, _ state: AvahiClientState) {
        self.client = client
        switch state {
        case AVAHI_CLIENT_S_RUNNING:
            if let client { onState(.running(client)) }
        case AVAHI_CLIENT_CONNECTING:
            onState(.waitingForDaemon)
        case AVAHI_CLIENT_S_REGISTERING, AVAHI_CLIENT_S_COLLISION:
            onState(.registering)
        case AVAHI_CLIENT_FAILURE:
            if Int(avahi_client_errno(client)) == AVAHI_ERR_DISCONNECTED, !stopped {
                // The daemon went away (crashed or was restarted): tell the owner first, so it
                // forgets objects that die with this client, then wait for the daemon again.
                onState(.waitingForDaemon)
                avahi_client_free(client)
                self.client = nil
                if !connect() { retryLater() }
            } else {
                onState(.failed(String(cString: avahi_strerror(avahi_client_errno(client)))))
            }
        default:
            break
        }
    }

    /// Runs `body` holding the poll's lock: required to touch avahi objects from another thread.
    func withLock<T>(_ body: () -> T) -> T {
        avahi_threaded_poll_lock(poll)
        defer { avahi_threaded_poll_unlock(poll) }
        return body()
    }

    /// Stops the event loop and frees the client, which withdraws everything it published.
    /// Must not be called from a callback.
    func stop() {
        guard !stopped else { return }
        withLock { stopped = true }
        avahi_threaded_poll_stop(poll)
        if let client { avahi_client_free(client) }
        client = nil
        avahi_threaded_poll_free(poll)
    }

    deinit { stop() }
}
