import CSodium
import Crypto
import DequeModule
import Foundation
import Meeting

/// What a phone says is sealed on the phone to the node's key, and what the node answers
/// about that phone alone is sealed back (docs/threat-model.md, "Sealed requests"): someone who
/// knows the Wi-Fi password and records the air reads neither, nor the token that would let
/// him act as the phone.
///
/// The construction is NaCl's `crypto_box` (X25519, then XSalsa20-Poly1305), as the page's
/// tweetnacl (Debian's node-tweetnacl) has it and libsodium (Debian's libsodium-dev) opens it:
/// swift-crypto has X25519 but neither HSalsa20 nor XSalsa20, and a phone's Chrome over plain
/// http has no WebCrypto to do anything else.
///
/// A request is exactly ``requestSize`` bytes, whatever it says:
///
///     ephemeral public key (32) · nonce (24) · box(length (2, big-endian) · JSON · zeros)
///
/// with a fresh key pair for every request, so that the answer, sealed to that key, opens only
/// on the phone that asked. An answer is exactly ``replySize`` bytes: nonce (24) · box(…).
public struct Sealing: Sendable {
    static let keyBytes = 32
    static let nonceBytes = 24
    static let macBytes = 16
    /// What one request can carry: a 1,000-character reflection in any script, with room.
    static let requestPlaintext = 8192
    /// What one answer can carry: the longest error, or 12 taps' ids (``SealedRoutes``). Small,
    /// as every answer is this size and each crosses the hall's Wi-Fi (docs/hosting.md, "Airtime").
    static let replyPlaintext = 1024
    public static let requestSize = keyBytes + nonceBytes + macBytes + requestPlaintext
    public static let replySize = nonceBytes + macBytes + replyPlaintext

    /// The node's public key, as pages take it (base64url, no padding).
    public let publicKey: [UInt8]
    private let secretKey: [UInt8]

    /// A new key for one run of a node, held in memory only: a laptop taken after the meeting
    /// holds nothing that opens what was recorded off the air while it ran.
    static func random() -> Sealing {
        start()
        var secret = [UInt8](repeating: 0, count: keyBytes)
        randombytes_buf(&secret, keyBytes)
        return Sealing(secretKey: secret)
    }

    /// What the room key signs so a page can trust a node's key: the QR link carries the room's
    /// public key, never a node's, so every facilitator's laptop, each with its own key, is
    /// trusted by a page that scanned the code.
    func signedBy(_ roomKey: SigningKey) -> [UInt8] { roomKey.sign(Self.signedMessage(publicKey)) }

    static func signedMessage(_ publicKey: [UInt8]) -> [UInt8] { Array("halqa seal key v1 ".utf8) + publicKey }

    public init(secretKey: [UInt8]) {
        Sealing.start()
        precondition(secretKey.count == Self.keyBytes)
        var publicKey = [UInt8](repeating: 0, count: Self.keyBytes)
        _ = crypto_scalarmult_base(&publicKey, secretKey)
        self.secretKey = secretKey
        self.publicKey = publicKey
    }

    var publicKeyText: String { Base64URL.encode(publicKey) }

    /// The key of a session's room view (``MeetingRoom/sealedUpdate(since:deflated:)``), from its room key: a
    /// page gets it in the answer to its sealed join, so only joined pages read what the room
    /// sees, and a sniffer on the air does not.
    static func viewKey(roomKey: [UInt8]) -> [UInt8] {
        let derived = HKDF<SHA256>.deriveKey(
            inputKeyMaterial: SymmetricKey(data: roomKey), info: Data("halqa room view key v1".utf8), outputByteCount: keyBytes)
        return derived.withUnsafeBytes { Array($0) }
    }

    /// `bytes` sealed with `key` (NaCl's secretbox: XSalsa20-Poly1305): nonce (24) · box.
    static func seal(_ bytes: [UInt8], withKey key: [UInt8]) -> [UInt8] {
        let nonce = randomNonce()
        var box = [UInt8](repeating: 0, count: bytes.count + macBytes)
        _ = crypto_secretbox_easy(&box, bytes, UInt64(bytes.count), nonce, key)
        return nonce + box
    }

    /// Opens what ``seal(_:withKey:)`` sealed; nil if it does not open.
    public static func open(_ sealed: [UInt8], withKey key: [UInt8]) -> [UInt8]? {
        sealed.withUnsafeBufferPointer { open($0, withKey: key) }
    }

    /// The same, in place: nonce (24) · box, read where it lies.
    static func open(_ sealed: UnsafeBufferPointer<UInt8>, withKey key: [UInt8]) -> [UInt8]? {
        guard sealed.count >= nonceBytes + macBytes, let base = sealed.baseAddress else { return nil }
        let boxBytes = sealed.count - nonceBytes
        var out = [UInt8](repeating: 0, count: boxBytes - macBytes)
        guard crypto_secretbox_open_easy(&out, base + nonceBytes, UInt64(boxBytes), base, key) == 0 else { return nil }
        return out
    }

    /// A random nonce (libsodium started first).
    static func randomNonce() -> [UInt8] {
        start()
        var nonce = [UInt8](repeating: 0, count: nonceBytes)
        randombytes_buf(&nonce, nonceBytes)
        return nonce
    }

    /// Length (2 bytes, big-endian) · `bytes` · zeros, to `size`: every box of a kind is one size.
    static func pad(_ bytes: [UInt8], to size: Int) -> [UInt8] {
        precondition(bytes.count <= size - 2, "cut to fit before padding")
        return [UInt8(bytes.count >> 8), UInt8(bytes.count & 0xFF)] + bytes + [UInt8](repeating: 0, count: size - 2 - bytes.count)
    }

    /// What ``pad(_:to:)`` padded; nil unless the length fits and only zeros follow.
    static func unpad(_ padded: [UInt8]) -> [UInt8]? {
        let length = Int(padded[0]) << 8 | Int(padded[1])
        guard length <= padded.count - 2 else { return nil }
        return padded.withUnsafeBufferPointer { buffer in
            var zeros: UInt8 = 0
            for byte in buffer[(2 + length)...] { zeros |= byte }
            return zeros == 0 ? Array(buffer[2..<(2 + length)]) : nil
        }
    }

    /// libsodium must be started once before use; starting it again does nothing.
    static func start() { _ = sodiumStarted }
    private static let sodiumStarted: Int32 = sodium_init()

    /// Why a sealed request was refused (docs/openapi.yaml: `sealed-size`, `sealed-unopenable`).
    public enum Refusal: Error {
        case wrongSize
        case unopenable
    }

    /// An opened request: what it says, and the key its answer is sealed with.
    public struct Opened: Sendable {
        let ephemeralKey: [UInt8]
        /// The request's nonce: what the replay guard remembers (changing it breaks the box,
        /// unlike the public key's top bit, which X25519 ignores).
        let nonce: [UInt8]
        let plaintext: [UInt8]
        fileprivate let sharedKey: [UInt8]
    }

    public func open(_ body: [UInt8]) throws(Refusal) -> Opened {
        try body.withUnsafeBufferPointer { buffer throws(Refusal) in try open(buffer) }
    }

    /// Opens a request where it lies (the body as received): ephemeral key · nonce · box.
    func open(_ body: UnsafeBufferPointer<UInt8>) throws(Refusal) -> Opened {
        guard body.count == Self.requestSize, let base = body.baseAddress else { throw .wrongSize }
        // A key with its top bit set is the same X25519 key as without it: refused, so one
        // request cannot be sent again under a "different" key.
        guard body[Self.keyBytes - 1] & 0x80 == 0 else { throw .unopenable }
        var shared = [UInt8](repeating: 0, count: Int(crypto_box_BEFORENMBYTES))
        guard crypto_box_beforenm(&shared, base, secretKey) == 0 else { throw .unopenable }
        // crypto_box's "afternm" is secretbox under the shared key: nonce · box, as seal(_:withKey:) writes.
        let sealed = UnsafeBufferPointer(rebasing: body[Self.keyBytes...])
        guard let padded = Self.open(sealed, withKey: shared), let plaintext = Self.unpad(padded) else { throw .unopenable }
        return Opened(
            ephemeralKey: Array(body[0..<Self.keyBytes]), nonce: Array(body[Self.keyBytes..<(Self.keyBytes + Self.nonceBytes)]),
            plaintext: plaintext, sharedKey: shared)
    }

    /// Seals an answer to the phone that sent `request`: always ``replySize`` bytes.
    public func seal(_ reply: [UInt8], to request: Opened) -> [UInt8] {
        Self.seal(Self.pad(reply, to: Self.replyPlaintext), withKey: request.sharedKey)
    }

    /// Seals a request as a page does (for tests and the benchmark's simulated phones):
    /// returns the body and a way to open the answer.
    public static func sealRequest(_ plaintext: [UInt8], to nodeKey: [UInt8]) -> (body: [UInt8], openReply: @Sendable ([UInt8]) -> [UInt8]?)
    {
        start()
        var publicKey = [UInt8](repeating: 0, count: keyBytes)
        var secretKey = [UInt8](repeating: 0, count: keyBytes)
        crypto_box_keypair(&publicKey, &secretKey)
        var shared = [UInt8](repeating: 0, count: Int(crypto_box_BEFORENMBYTES))
        _ = crypto_box_beforenm(&shared, nodeKey, secretKey)
        let key = shared
        let open: @Sendable ([UInt8]) -> [UInt8]? = { reply in
            // Any size opens here (a benchmark's phones also speak to older nodes, whose answers
            // were 4,136 bytes); tests check the size on the wire themselves.
            Sealing.open(reply, withKey: key).flatMap(unpad)
        }
        return (publicKey + seal(pad(plaintext, to: requestPlaintext), withKey: shared), open)
    }
}

/// Remembers the nonces of the requests a node has opened, so a request recorded off
/// the air and sent again is refused. Held in memory only (a phone's token does not outlive the
/// node either, so a request replayed after a restart opens nothing but a join, whose answer
/// only the phone that asked can read).
struct ReplayGuard: Sendable {
    private var seen = Set<[UInt8]>()
    private var order = Deque<[UInt8]>()
    /// About 13 MB at most: far more requests than a meeting makes.
    static let capacity = 200_000

    /// False if `key` was seen before; otherwise remembers it (forgetting the oldest past capacity).
    mutating func admit(_ key: [UInt8]) -> Bool {
        guard seen.insert(key).inserted else { return false }
        order.append(key)
        if order.count > Self.capacity { seen.remove(order.removeFirst()) }
        return true
    }
}

/// Base64 with the URL alphabet and no padding, as keys travel in a link's fragment.
public enum Base64URL {
    public static func encode(_ bytes: [UInt8]) -> String {
        Data(bytes).base64EncodedString().replacingOccurrences(of: "+", with: "-").replacingOccurrences(of: "/", with: "_")
            .replacingOccurrences(of: "=", with: "")
    }

    public static func decode(_ text: String) -> [UInt8]? {
        var s = text.replacingOccurrences(of: "-", with: "+").replacingOccurrences(of: "_", with: "/")
        while s.count % 4 != 0 { s += "=" }
        return Data(base64Encoded: s).map(Array.init)
    }
}
