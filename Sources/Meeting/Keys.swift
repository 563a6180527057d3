import Crypto
import Foundation

/// An Ed25519 public key as carried in events.
public struct PublicKey: Hashable, Comparable, Sendable, CustomStringConvertible {
    public let raw: [UInt8]

    public init?(raw: some Collection<UInt8>) {
        guard raw.count == 32, (try? Curve25519.Signing.PublicKey(rawRepresentation: Array(raw))) != nil else { return nil }
        self.raw = Array(raw)
    }

    /// A short, readable fingerprint people can compare aloud: 8 groups of 4 base32 letters.
    public var fingerprint: String {
        let letters = Base32.letters(of: SHA256.hash(data: raw), count: 16)
        return stride(from: 0, to: 16, by: 4).map { String(letters[$0..<$0 + 4]) }.joined(separator: "-")
    }

    public var base64: String { Data(raw).base64EncodedString() }
    public var description: String { fingerprint }

    func isValidSignature(_ signature: [UInt8], for message: [UInt8]) -> Bool {
        guard let key = try? Curve25519.Signing.PublicKey(rawRepresentation: raw) else { return false }
        return key.isValidSignature(signature, for: message)
    }

    public static func < (a: PublicKey, b: PublicKey) -> Bool { a.raw.lexicographicallyPrecedes(b.raw) }
}

/// A private Ed25519 key: a node's own identity, or a session's room key.
///
/// A node's key signs its facilitator actions. A session's room key is shared by the
/// session's admitted nodes and signs participants' reflections and resonances, so that a
/// reflection shows it came from *some* admitted node and never which one.
public struct SigningKey: Sendable {
    let key: Curve25519.Signing.PrivateKey

    /// A new random key.
    public init() { key = Curve25519.Signing.PrivateKey() }

    /// A key from its 32 raw bytes, as the store keeps it.
    public init?(raw: some Collection<UInt8>) {
        guard let key = try? Curve25519.Signing.PrivateKey(rawRepresentation: Array(raw)) else { return nil }
        self.key = key
    }

    public var raw: [UInt8] { Array(key.rawRepresentation) }
    public var publicKey: PublicKey { PublicKey(raw: key.publicKey.rawRepresentation)! }

    public func sign(_ message: [UInt8]) -> [UInt8] {
        // Signing only fails when the platform's RNG does; there is no way to go on then.
        Array(try! key.signature(for: message))
    }
}

/// Random bytes for ids and nonces, from the system's secure generator.
func randomBytes(_ count: Int) -> [UInt8] {
    var generator = SystemRandomNumberGenerator()
    var out: [UInt8] = []
    out.reserveCapacity(count + 7)
    // Eight bytes per draw: one system call gives eight bytes, not one.
    while out.count < count { withUnsafeBytes(of: generator.next() as UInt64) { out += $0 } }
    return Array(out.prefix(count))
}
