import Crypto
import Foundation
import Meeting

/// The secrets that let people into a hosted session.
///
/// The join code is typed by participants: 8 characters from 30 that cannot be confused
/// (no 0/O, 1/I/L, U), 30^8 ≈ 6.6 × 10^11 possibilities; with guessing throttled to at most 60
/// wrong codes a minute for the whole node (``GuessThrottle``), a three-hour meeting allows
/// about 10,800 guesses, a chance of roughly 1 in 60 million. The facilitator's secret and the
/// projector's key are 128 random bits and are never typed: they travel in their links' fragments.
public enum AccessCodes {
    static let alphabet = Array("23456789ABCDEFGHJKMNPQRSTVWXYZ")

    /// A new random join code, without the dash (see ``display(_:)``).
    public static func newJoinCode() -> String {
        var generator = SystemRandomNumberGenerator()
        return String((0..<8).map { _ in alphabet.randomElement(using: &generator)! })
    }

    /// A new secret for a link (the console's, the projector's) or a participant's token:
    /// 26 characters of base32, 128 bits.
    public static func newSecret() -> String {
        var generator = SystemRandomNumberGenerator()
        return String((0..<26).map { _ in Array("abcdefghijklmnopqrstuvwxyz234567").randomElement(using: &generator)! })
    }

    /// The join link's ticket: what the QR code and a page that moves to another node carry
    /// instead of the join code, so a phone's browser history never holds the code. It lets
    /// in like the code while the session runs, and is 16 characters of the same alphabet:
    /// HMAC-SHA256 keyed by the session's room key (which every co-facilitator holds, so each
    /// can check it, and which nobody can find from the code or the ticket).
    public static func ticket(roomKey: SigningKey) -> String {
        let mac = HMAC<SHA256>.authenticationCode(for: Array("halqa join link v1".utf8), using: SymmetricKey(data: roomKey.raw))
        return String(Array(mac).prefix(16).map { alphabet[Int($0) % alphabet.count] })
    }

    /// The code as people read it: `KQ7M-4XTP`.
    public static func display(_ code: String) -> String {
        String(code.prefix(4)) + "-" + String(code.dropFirst(4))
    }

    /// What a person typed, normalised: case, spaces and dashes do not matter.
    static func normalise(_ typed: String) -> String {
        String(typed.uppercased().filter { $0.isLetter || $0.isNumber }.prefix(32))
    }

    /// Compares without stopping at the first difference, so timing says nothing about
    /// how much of a guess was right.
    static func matches(_ a: String, _ b: String) -> Bool {
        let x = Array(a.utf8)
        let y = Array(b.utf8)
        var difference = UInt8(x.count == y.count ? 0 : 1)
        for i in 0..<min(x.count, y.count) { difference |= x[i] ^ y[i] }
        return difference == 0
    }
}
