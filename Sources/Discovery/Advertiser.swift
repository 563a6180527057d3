import CAvahi
import Synchronization

/// A service this node announces on the LAN.
public struct AdvertisedService: Sendable, Hashable {
    /// The instance name people see; on a collision Avahi's alternative ("name #2") is used.
    public var name: String
    public var type: String
    public var port: UInt16
    /// TXT records, `key=value`, documented in docs/discovery.md.
    public var txt: [String: String]

    public init(name: String, type: String = "_halqa._tcp", port: UInt16, txt: [String: String]) {
        self.name = name
        self.type = type
        self.port = port
        self.txt = txt
    }
}

/// Announces one service by mDNS/DNS-SD through avahi-daemon, from start to ``stop()``, across
/// name collisions and daemon restarts.
///
/// ```swift
/// let advertiser = try Advertiser(AdvertisedService(name: "halqa-k7q2", port: 8080, txt: ["v": "1"]))
/// for await status in advertiser.statuses { print(status) }
/// ```
///
/// Threading: see ``AvahiConnection``; state is touched on the poll thread or under its lock.
public final class Advertiser: @unchecked Sendable {
    public enum Status: Sendable, Equatable {
        /// avahi-daemon is not running; the service will be announced when it starts.
        case waitingForDaemon
        /// Announced under this name (which differs from the one asked for after a collision).
        case established(name: String)
        case failed(String)
    }

    /// What happens to the announcement, as it happens.
    public let statuses: AsyncStream<Status>
    private let continuation: AsyncStream<Status>.Continuation
    /// The connection, until ``stop()``: behind a lock of its own, so that a reader on another
    /// thread never meets one being stopped and freed (taken before the poll's lock, never
    /// inside a callback).
    private let connection = Mutex<AvahiConnection?>(nil)
    private var group: OpaquePointer?
    private var service: AdvertisedService
    private var lastStatus: Status?

    public init(_ service: AdvertisedService) throws(DiscoveryError) {
        self.service = service
        (statuses, continuation) = AsyncStream.makeStream(bufferingPolicy: .bufferingNewest(16))
        let connection = try AvahiConnection { [unowned self] state in self.changed(state) }
        self.connection.withLock { $0 = connection }
    }

    /// The name the service is announced under now.
    public var name: String { connection.withLock { $0?.withLock { service.name } } ?? service.name }

    /// The latest status.
    public var status: Status? { connection.withLock { $0?.withLock { lastStatus } } ?? lastStatus }

    /// Withdraws the announcement (peers see it leave) and stops.
    public func stop() {
        connection.withLock {
            $0?.stop()
            $0 = nil
        }
        continuation.finish()
    }

    deinit { stop() }

    private func report(_ status: Status) {
        lastStatus = status
        continuation.yield(status)
    }

    // MARK: On the poll thread

    private func changed(_ state: AvahiConnection.State) {
        switch state {
        case .running(let client):
            if group == nil {
                group = avahi_entry_group_new(
                    client,
                    { group, state, userdata in
                        Unmanaged<Advertiser>.fromOpaque(userdata!).takeUnretainedValue().groupChanged(group, state)
                    }, Unmanaged.passUnretained(self).toOpaque())
            }
            if let group, avahi_entry_group_is_empty(group) != 0 { publish(group) }
        case .waitingForDaemon:
            group = nil  // it dies with the client
            report(.waitingForDaemon)
        case .registering:
            if let group { avahi_entry_group_reset(group) }
        case .failed(let message):
            report(.failed(message))
        }
    }

    private func groupChanged(_ group: OpaquePointer?, _ state: AvahiEntryGroupState) {
        switch state {
        case AVAHI_ENTRY_GROUP_ESTABLISHED:
            report(.established(name: service.name))
        case AVAHI_ENTRY_GROUP_COLLISION:
            // Another node took this name first: take Avahi's alternative and announce again.
            renameAfterCollision()
            if let group {
                avahi_entry_group_reset(group)
                publish(group)
            }
        case AVAHI_ENTRY_GROUP_FAILURE:
            report(.failed(String(cString: avahi_strerror(avahi_client_errno(avahi_entry_group_get_client(group))))))
        default:
            break
        }
    }

    private func renameAfterCollision() {
        guard let alternative = avahi_alternative_service_name(service.name) else { return }
        service.name = String(cString: alternative)
        avahi_free(alternative)
    }

    private func publish(_ group: OpaquePointer) {
        var txt: UnsafeMutablePointer<AvahiStringList>? = nil
        for (key, value) in service.txt.sorted(by: { $0.key < $1.key }) {
            txt = avahi_string_list_add(txt, "\(key)=\(value)")
        }
        defer { avahi_string_list_free(txt) }
        var result = avahi_entry_group_add_service_strlst(
            group, AvahiIfIndex(AVAHI_IF_UNSPEC), AvahiProtocol(AVAHI_PROTO_UNSPEC), AvahiPublishFlags(0),
            service.name, service.type, nil, nil, service.port, txt)
        if Int(result) == AVAHI_ERR_COLLISION {
            renameAfterCollision()
            result = avahi_entry_group_add_service_strlst(
                group, AvahiIfIndex(AVAHI_IF_UNSPEC), AvahiProtocol(AVAHI_PROTO_UNSPEC), AvahiPublishFlags(0),
                service.name, service.type, nil, nil, service.port, txt)
        }
        guard result >= 0, avahi_entry_group_commit(group) >= 0 else {
            report(.failed(String(cString: avahi_strerror(result))))
            return
        }
    }
}
