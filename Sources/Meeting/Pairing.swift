import Crypto

/// The confirmation code of a pairing: six digits both nodes show, which the facilitator
/// compares before admitting a node.
///
/// The code is never the key. It is derived from both nodes' keys (as the encrypted
/// connection proved them) and from a nonce of each side, where the host commits to its
/// nonce before it sees the joining node's (the numeric comparison of Bluetooth's Secure
/// Simple Pairing). A machine in the middle would have to make two different connections show
/// the same six digits without being able to choose either code: it succeeds once in a
/// million tries, and each try is a pairing the facilitator sees and does not admit.
public enum Pairing {
    /// A fresh nonce for one pairing.
    public static func nonce() -> [UInt8] { randomBytes(32) }

    /// What the host sends first: a commitment to its nonce.
    public static func commitment(to nonce: [UInt8]) -> [UInt8] {
        Array(SHA256.hash(data: Array("halqa pairing commitment v1".utf8) + nonce))
    }

    /// Whether a revealed nonce is the one committed to.
    public static func opens(_ commitment: [UInt8], with nonce: [UInt8]) -> Bool {
        Pairing.commitment(to: nonce) == commitment
    }

    /// The six digits, as `123 456`.
    public static func code(host: PublicKey, node: PublicKey, hostNonce: [UInt8], nodeNonce: [UInt8]) -> String {
        let digest = Array(SHA256.hash(data: Array("halqa pairing code v1".utf8) + host.raw + node.raw + hostNonce + nodeNonce))
        let value = (UInt32(digest[0]) << 24 | UInt32(digest[1]) << 16 | UInt32(digest[2]) << 8 | UInt32(digest[3])) % 1_000_000
        let digits = String(value).leftPadded(to: 6)
        return String(digits.prefix(3)) + " " + String(digits.suffix(3))
    }
}

extension String {
    func leftPadded(to count: Int) -> String { String(repeating: "0", count: max(0, count - self.count)) + self }
}
