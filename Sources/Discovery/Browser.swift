import CAvahi
import Synchronization

/// A service found on the LAN, resolved to an address.
public struct DiscoveredService: Sendable, Hashable, Codable {
    public var name: String
    public var host: String
    public var address: String
    public var port: Int
    public var txt: [String: String]
}

/// What a ``Browser`` sees happen.
public enum DiscoveryEvent: Sendable, Hashable {
    case appeared(DiscoveredService)
    case changed(DiscoveredService)
    case disappeared(name: String)
    /// avahi-daemon is not running (or just went away); browsing resumes when it returns.
    case waitingForDaemon
    /// The first answers are in: what has appeared so far is what is on the LAN now.
    case settled
    case failed(String)
}

/// Finds services of one type on the LAN, as an `AsyncSequence` of events, across daemon
/// restarts: when avahi-daemon comes back it browses again, and services that did not come
/// back with it are reported gone.
///
/// Threading: see ``AvahiConnection``; state is touched on the poll thread or under its lock.
public final class Browser: @unchecked Sendable {
    public let events: AsyncStream<DiscoveryEvent>
    private let continuation: AsyncStream<DiscoveryEvent>.Continuation
    private let type: String
    /// The connection, until ``stop()``: behind a lock of its own, so that a reader on another
    /// thread never meets one being stopped and freed (taken before the poll's lock, never
    /// inside a callback).
    private let connection = Mutex<AvahiConnection?>(nil)
    private var browser: OpaquePointer?
    private var known: [String: DiscoveredService] = [:]
    /// Known before the daemon went away, and not yet seen since it came back.
    private var stale: Set<String> = []

    public init(type: String = "_halqa._tcp") throws(DiscoveryError) {
        self.type = type
        (events, continuation) = AsyncStream.makeStream(bufferingPolicy: .bufferingNewest(1024))
        let connection = try AvahiConnection { [unowned self] state in self.changed(state) }
        self.connection.withLock { $0 = connection }
    }

    /// The services known now.
    public var services: [DiscoveredService] {
        connection.withLock { $0?.withLock { Array(known.values) } } ?? []
    }

    public func stop() {
        connection.withLock {
            $0?.stop()
            $0 = nil
        }
        continuation.finish()
    }

    deinit { stop() }

    // MARK: On the poll thread

    private func changed(_ state: AvahiConnection.State) {
        switch state {
        case .running(let client):
            guard browser == nil else { return }
            stale = Set(known.keys)
            browser = avahi_service_browser_new(
                client, AvahiIfIndex(AVAHI_IF_UNSPEC), AvahiProtocol(AVAHI_PROTO_INET), type, nil, AvahiLookupFlags(0),
                {
                    _, interface, proto, event, name, type, domain, _, userdata in
                    Unmanaged<Browser>.fromOpaque(userdata!).takeUnretainedValue().browsed(interface, proto, event, name, type, domain)
                }, Unmanaged.passUnretained(self).toOpaque())
            if browser == nil { continuation.yield(.failed(String(cString: avahi_strerror(avahi_client_errno(client))))) }
        case .waitingForDaemon:
            browser = nil  // it dies with the client
            continuation.yield(.waitingForDaemon)
        case .registering:
            break
        case .failed(let message):
            continuation.yield(.failed(message))
        }
    }

    private func browsed(
        _ interface: AvahiIfIndex, _ proto: AvahiProtocol, _ event: AvahiBrowserEvent,
        _ name: UnsafePointer<CChar>?, _ type: UnsafePointer<CChar>?, _ domain: UnsafePointer<CChar>?
    ) {
        switch event {
        case AVAHI_BROWSER_NEW:
            guard let browser, let client = avahi_service_browser_get_client(browser) else { return }
            // Freed in its own callback.
            _ = avahi_service_resolver_new(
                client, interface, proto, name, type, domain, AvahiProtocol(AVAHI_PROTO_INET), AvahiLookupFlags(0),
                {
                    resolver, _, _, event, name, _, _, host, address, port, txt, _, userdata in
                    Unmanaged<Browser>.fromOpaque(userdata!).takeUnretainedValue().resolved(event, name, host, address, port, txt)
                    avahi_service_resolver_free(resolver)
                }, Unmanaged.passUnretained(self).toOpaque())
        case AVAHI_BROWSER_REMOVE:
            guard let name else { return }
            let key = String(cString: name)
            stale.remove(key)
            if known.removeValue(forKey: key) != nil { continuation.yield(.disappeared(name: key)) }
        case AVAHI_BROWSER_ALL_FOR_NOW:
            for key in stale where known.removeValue(forKey: key) != nil { continuation.yield(.disappeared(name: key)) }
            stale = []
            continuation.yield(.settled)
        case AVAHI_BROWSER_FAILURE:
            continuation.yield(.failed("browsing failed"))
        default:
            break
        }
    }

    private func resolved(
        _ event: AvahiResolverEvent, _ name: UnsafePointer<CChar>?, _ host: UnsafePointer<CChar>?,
        _ address: UnsafePointer<AvahiAddress>?, _ port: UInt16, _ txt: UnsafeMutablePointer<AvahiStringList>?
    ) {
        guard event == AVAHI_RESOLVER_FOUND, let name, let address else { return }
        var text = [CChar](repeating: 0, count: Int(AVAHI_ADDRESS_STR_MAX))
        avahi_address_snprint(&text, text.count, address)
        var records: [String: String] = [:]
        var item = txt
        while let current = item {
            let bytes = UnsafeBufferPointer(start: avahi_string_list_get_text(current), count: avahi_string_list_get_size(current))
            let entry = String(decoding: bytes, as: UTF8.self)
            if let equals = entry.firstIndex(of: "=") {
                records[String(entry[..<equals])] = String(entry[entry.index(after: equals)...])
            } else {
                records[entry] = ""
            }
            item = avahi_string_list_get_next(current)
        }
        let service = DiscoveredService(
            name: String(cString: name), host: host.map { String(cString: $0) } ?? "",
            address: String(decoding: text.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self),
            port: Int(port), txt: records)
        stale.remove(service.name)
        let previous = known.updateValue(service, forKey: service.name)
        if previous == nil {
            continuation.yield(.appeared(service))
        } else if previous != service {
            continuation.yield(.changed(service))
        }
    }
}
