import Crypto
import Foundation
import Meeting
import NIOCore
import NIOExtras
import NIOPosix
import NIOSSL
import SwiftASN1
import Synchronization
import X509

/// The encrypted, mutually authenticated connection between two nodes.
///
/// TLS 1.3 (swift-nio-ssl over BoringSSL), where each node presents a self-signed certificate
/// for its own Ed25519 node key and proves it holds the key in the handshake. Certificates
/// are not checked against any authority: a node is known by its key, as Syncthing knows a
/// device by its ID. The side that calls pins the key it expects (an admitted node's key, or
/// the fingerprint the host announced), and the handshake fails on any other; the side that
/// answers learns the caller's key from the handshake and decides what it may do (an admitted
/// node replicates, an unknown one may only ask to be admitted).
///
/// Messages are ``PeerMessage`` frames with a four-byte length; a frame over
/// ``PeerMessage/maxFrame`` closes the connection.
///
/// The listening side limits what one address may take (``PeerLimits``, docs/limits.md).
enum PeerTransport {
    typealias Channel = NIOAsyncChannel<ByteBuffer, ByteBuffer>

    /// One connection, once it is open.
    struct Connection: Sendable {
        let channel: Channel
        /// The key the other node proved in the handshake.
        let peerKey: @Sendable () -> PublicKey?
        let remoteAddress: String?
        /// Called once the other node's hello has arrived: lifts the hello deadline.
        let greeted: @Sendable () -> Void
        /// Whether the hello deadline closed it: the other side said nothing in time.
        let silent: @Sendable () -> Bool
        /// Ends the connection from any task (a silent peer, a node turned away).
        var close: @Sendable () -> Void {
            let channel = channel.channel
            return { channel.close(promise: nil) }
        }
    }

    /// Open connections per address on the listening side.
    final class OpenCount: Sendable {
        private let counts = Mutex<[String: Int]>([:])
        let limit: Int
        init(limit: Int) { self.limit = limit }
        func open(_ address: String) -> Bool {
            counts.withLock { counts in
                let now = counts[address, default: 0]
                guard now < limit else { return false }
                counts[address] = now + 1
                return true
            }
        }
        func close(_ address: String) {
            counts.withLock { counts in
                let now = counts[address, default: 1] - 1
                counts[address] = now > 0 ? now : nil
            }
        }
    }

    struct TooManyConnections: Error {}

    /// The TLS settings of one node: its certificate and key, TLS 1.3 only, Ed25519 only.
    final class Identity: Sendable {
        let key: SigningKey
        let server: NIOSSLContext
        let client: NIOSSLContext

        init(key: SigningKey) throws {
            self.key = key
            let privateKey = try Curve25519.Signing.PrivateKey(rawRepresentation: key.raw)
            let certificateKey = Certificate.PrivateKey(privateKey)
            let name = try DistinguishedName { CommonName("halqa node") }
            let now = Date()
            let certificate = try Certificate(
                version: .v3, serialNumber: Certificate.SerialNumber(), publicKey: certificateKey.publicKey,
                notValidBefore: now.addingTimeInterval(-86_400), notValidAfter: now.addingTimeInterval(20 * 365 * 86_400),
                issuer: name, subject: name, extensions: Certificate.Extensions {}, issuerPrivateKey: certificateKey)
            var serializer = DER.Serializer()
            try serializer.serialize(certificate)
            let tlsCertificate = try NIOSSLCertificate(bytes: serializer.serializedBytes, format: .der)
            let tlsKey = try NIOSSLPrivateKey(bytes: Array(try certificateKey.serializeAsPEM().pemString.utf8), format: .pem)

            func configure(_ c: inout TLSConfiguration) {
                c.minimumTLSVersion = .tlsv13
                c.maximumTLSVersion = .tlsv13
                c.signingSignatureAlgorithms = [.ed25519]
                c.verifySignatureAlgorithms = [.ed25519]
                // Both sides present a certificate; the callback below decides, not a CA.
                c.certificateVerification = .noHostnameVerification
                // A connection this node closes (a node turned away, a silent one) is gone
                // within a second even if the other side never answers the close.
                c.shutdownTimeout = .seconds(1)
            }
            var server = TLSConfiguration.makeServerConfiguration(
                certificateChain: [.certificate(tlsCertificate)], privateKey: .privateKey(tlsKey))
            configure(&server)
            var client = TLSConfiguration.makeClientConfiguration()
            client.certificateChain = [.certificate(tlsCertificate)]
            client.privateKey = .privateKey(tlsKey)
            configure(&client)
            self.server = try NIOSSLContext(configuration: server)
            self.client = try NIOSSLContext(configuration: client)
        }
    }

    /// The Ed25519 key of a certificate, if it has one.
    static func key(of certificate: NIOSSLCertificate) -> PublicKey? {
        // An Ed25519 SubjectPublicKeyInfo is this 12-byte prefix and the 32-byte key.
        let prefix: [UInt8] = [0x30, 0x2a, 0x30, 0x05, 0x06, 0x03, 0x2b, 0x65, 0x70, 0x03, 0x21, 0x00]
        guard let spki = try? certificate.extractPublicKey().toSPKIBytes(), spki.count == 44, Array(spki.prefix(12)) == prefix else {
            return nil
        }
        return PublicKey(raw: spki.suffix(32))
    }

    /// Adds TLS and framing to a new channel. `expect` pins the peer's key (by its
    /// fingerprint): the handshake fails for any other.
    private static func configure(
        _ channel: any NIOCore.Channel, identity: Identity, server: Bool,
        expect fingerprint: String?, helloDeadline: Duration
    ) throws -> Connection {
        let box = SeenKey()
        let verify: NIOSSLCustomVerificationCallback = { certificates, promise in
            guard certificates.count == 1, let key = PeerTransport.key(of: certificates[0]),
                fingerprint == nil || key.fingerprint == fingerprint
            else {
                promise.succeed(.failed)
                return
            }
            box.set(key)
            promise.succeed(.certificateVerified)
        }
        let sync = channel.pipeline.syncOperations
        if server {
            try sync.addHandler(NIOSSLServerHandler(context: identity.server, customVerificationCallback: verify))
        } else {
            try sync.addHandler(try NIOSSLClientHandler(context: identity.client, serverHostname: nil, customVerificationCallback: verify))
        }
        try sync.addHandler(
            ByteToMessageHandler(
                LengthFieldBasedFrameDecoder(lengthFieldBitLength: .fourBytes),
                maximumBufferSize: PeerMessage.maxFrame + 4))
        try sync.addHandler(LengthFieldPrepender(lengthFieldBitLength: .fourBytes))
        let async = try Channel(wrappingChannelSynchronously: channel)
        // Both ways: a caller that says nothing does not keep its place here, and a machine that
        // takes this node's call and says nothing (a wrong address, a spoofed hint) does not
        // keep it waiting for ever.
        // Greeted or expired, whichever comes first; the other then does nothing.
        let hello = HelloState()
        let deadline = channel.eventLoop.scheduleTask(in: .nanoseconds(Int64(helloDeadline.seconds * 1e9))) {
            if hello.expire() { channel.close(promise: nil) }
        }
        channel.closeFuture.whenComplete { _ in deadline.cancel() }
        return Connection(
            channel: async, peerKey: { box.get() }, remoteAddress: channel.remoteAddress?.ipAddress,
            greeted: { if hello.greet() { deadline.cancel() } }, silent: { hello.expired })
    }

    final class SeenKey: Sendable {
        private let key = Mutex<PublicKey?>(nil)
        func set(_ k: PublicKey) { key.withLock { $0 = k } }
        func get() -> PublicKey? { key.withLock { $0 } }
    }

    /// Whether a connection's hello came before its deadline: waiting, then greeted or expired, once.
    final class HelloState: Sendable {
        private static let waiting: UInt8 = 0, greeted: UInt8 = 1, expiredState: UInt8 = 2
        private let value = Atomic<UInt8>(HelloState.waiting)
        /// Whether this call moved it to greeted.
        func greet() -> Bool {
            value.compareExchange(expected: Self.waiting, desired: Self.greeted, ordering: .acquiringAndReleasing).exchanged
        }
        /// Whether this call moved it to expired.
        func expire() -> Bool {
            value.compareExchange(expected: Self.waiting, desired: Self.expiredState, ordering: .acquiringAndReleasing).exchanged
        }
        var expired: Bool { value.load(ordering: .acquiring) == Self.expiredState }
    }

    /// A call that the other side took, then said nothing on until the hello deadline.
    struct Silence: Error {
        let after: Duration
        /// Whether it proved a node key (the TLS handshake was done) before it fell silent.
        let keyed: Bool
    }

    /// Why a call to another node failed, in words for the person at this laptop.
    static func reason(_ error: any Error) -> String {
        let notHalqa = "something there took the call, but did not answer as a Halqa node"
        let closed = "something there took the call and closed it at once: not a Halqa node, or one too busy or stopping"
        switch error {
        case let silence as Silence where silence.keyed:
            return "a Halqa node there took the call, but went no further for \(Int(silence.after.seconds)) s (it may be too busy)"
        case let silence as Silence:
            return "something there took the call, but said nothing for \(Int(silence.after.seconds)) s (a Halqa node answers at once)"
        case ChannelError.ioOnClosedChannel, ChannelError.alreadyClosed, ChannelError.eof:
            // It closed the connection before any hello.
            return closed
        case NIOSSLError.handshakeFailed(.sslError(let stack)) where stack.contains(.eofDuringHandshake):
            return closed
        case let error as NIOConnectionError:
            // One failure per address the name stood for; the first says enough.
            guard let first = error.connectionErrors.first else { return "no such address was found" }
            return reason(first.error)
        case let error as ChannelError:
            if case .connectTimeout = error { return "nothing answered within 2 s" }
            return "the connection failed (\(error))"
        case let error as IOError where error.errnoCode == ECONNREFUSED:
            return "nothing there takes calls (connection refused)"
        case let error as IOError:
            return String(cString: strerror(error.errnoCode)).lowercased()
        case is NIOSSLError, is BoringSSLError:
            return notHalqa
        default:
            return "\(error)"
        }
    }

    /// Listens for other nodes; each connection is handed to `handle` in its own task.
    static func listen(
        host: String, port: Int, identity: Identity, limits: PeerLimits, bound: @escaping @Sendable (Int) -> Void,
        handle: @escaping @Sendable (Connection) async -> Void
    ) async throws {
        let open = OpenCount(limit: limits.connectionsPerAddress)
        let server = try await ServerBootstrap(group: MultiThreadedEventLoopGroup.singleton)
            .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
            .childChannelOption(.socketOption(.tcp_nodelay), value: 1)
            .bind(host: host, port: port) { channel in
                channel.eventLoop.makeCompletedFuture {
                    // Over its limit, an address's connection is closed before any TLS work.
                    let address = channel.remoteAddress?.ipAddress ?? "unknown"
                    guard open.open(address) else {
                        channel.close(promise: nil)
                        throw TooManyConnections()
                    }
                    channel.closeFuture.whenComplete { _ in open.close(address) }
                    return try configure(channel, identity: identity, server: true, expect: nil, helloDeadline: limits.helloDeadline)
                }
            }
        bound(server.channel.localAddress?.port ?? port)
        // The accepting loop is not cancelled itself: a connection accepted a moment before the
        // node stops would otherwise be dropped without being closed, which NIO traps
        // (apple/swift-nio#2637). On cancellation the listener closes, every connection still
        // being handled is cancelled, and one accepted after that is closed at once.
        let handlers = Handlers()
        let accepting = Task {
            try await server.executeThenClose { inbound in
                for try await connection in inbound where !handlers.start({ await handle(connection) }) {
                    try? await connection.channel.executeThenClose { _, _ in }
                }
            }
        }
        try await withTaskCancellationHandler {
            do {
                try await accepting.value
            } catch {
                handlers.stop()
                throw error
            }
        } onCancel: {
            handlers.stop()
            server.channel.close(promise: nil)
        }
    }

    /// The tasks handling accepted connections, so that stopping can cancel them all.
    final class Handlers: Sendable {
        private let state = Mutex((stopped: false, tasks: [UUID: Task<Void, Never>]()))

        /// Starts `work` in a task of its own, unless stopped (then false).
        func start(_ work: @escaping @Sendable () async -> Void) -> Bool {
            let id = UUID()
            return state.withLock { state in
                guard !state.stopped else { return false }
                state.tasks[id] = Task {
                    await work()
                    self.state.withLock { _ = $0.tasks.removeValue(forKey: id) }
                }
                return true
            }
        }

        func stop() {
            let tasks = state.withLock { state in
                state.stopped = true
                return Array(state.tasks.values)
            }
            for task in tasks { task.cancel() }
        }
    }

    /// Calls another node, which must prove the key with `fingerprint`; from the address
    /// `source` if given (tests of what one address may take). Unless the caller calls the
    /// connection's `greeted` once the other node's hello has arrived, it is closed after
    /// `helloDeadline`.
    static func connect(
        host: String, port: Int, identity: Identity, expect fingerprint: String?, from source: String? = nil,
        helloDeadline: Duration = PeerLimits().helloDeadline
    ) async throws -> Connection {
        var bootstrap = ClientBootstrap(group: MultiThreadedEventLoopGroup.singleton)
            .channelOption(.socketOption(.tcp_nodelay), value: 1)
            // A laptop that vanished answers nothing; the next address is tried soon.
            .connectTimeout(.seconds(2))
        if let source { bootstrap = bootstrap.bind(to: try SocketAddress(ipAddress: source, port: 0)) }
        return
            try await bootstrap
            .connect(host: host, port: port) { channel in
                channel.eventLoop.makeCompletedFuture {
                    try configure(channel, identity: identity, server: false, expect: fingerprint, helloDeadline: helloDeadline)
                }
            }
    }
}

/// What one address may take of the node-to-node port (docs/limits.md).
public struct PeerLimits: Sendable {
    /// Open connections from one address; the rest are closed as soon as they are accepted,
    /// before any TLS work. Two nodes hold one link; a few more come and go while pairing.
    public var connectionsPerAddress = 16
    /// From accepting a connection to its hello (the TLS handshake included); and from making
    /// a call to the other node's hello.
    public var helloDeadline: Duration = .seconds(10)
    public init() {}
}

extension PeerMessage {
    /// The frame as a buffer to write.
    var buffer: ByteBuffer { ByteBuffer(bytes: encoded()) }
}
