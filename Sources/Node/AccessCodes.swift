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
        let x = Array(a.utf8), y = Array(b.utf8)
        var difference = UInt8(x.count == y.count ? 0 : 1)
        for i in 0..<min(x.count, y.count) { difference |= x[i] ^ y[i] }
        return difference == 0
    }
}

/// A token bucket: up to `burst` at once, refilled at `rate` a second. Each limit of the node
/// (guesses, joins, requests) keeps one per address, in memory only.
struct TokenBucket {
    var tokens: Double
    var updated: ContinuousClock.Instant

    /// A full bucket.
    init(burst: Double, now: ContinuousClock.Instant) {
        tokens = burst
        updated = now
    }

    mutating func refill(burst: Double, rate: Double, now: ContinuousClock.Instant) {
        tokens = min(burst, tokens + (now - updated).seconds * rate)
        updated = now
    }

    /// Refills, then takes one token if there is one.
    mutating func take(burst: Double, rate: Double, now: ContinuousClock.Instant) -> Bool {
        refill(burst: burst, rate: rate, now: now)
        guard tokens >= 1 else { return false }
        tokens -= 1
        return true
    }
}

/// Slows down guessing of join codes and of the console's and projector's keys.
///
/// Each address may make 5 wrong guesses, then one more every 12 seconds. Join codes (30^8)
/// are also limited for the whole node: addresses that have guessed wrong share 60 wrong
/// guesses a minute (one a second once the burst is spent). That shared allowance is never
/// asked of an address that has not guessed wrong, so wrong guesses from many addresses
/// cannot lock out a phone with the right code; an attacker gains one unshared guess per
/// address it can take (a hall's /24: about 250 every ten minutes). The console's and
/// projector's keys are 128 random bits and need no node-wide limit. Addresses are held in
/// memory only, for at most ten minutes, and never logged.
actor GuessThrottle {
    /// What is being guessed.
    enum Kind: Sendable { case joinCode, secret }
    /// What a guess came to.
    enum Outcome: Sendable { case right, wrong, throttled }

    private var perAddress: [String: TokenBucket] = [:]
    /// Addresses that guessed a join code wrong, and when they last did.
    private var guessedWrong: [String: ContinuousClock.Instant] = [:]
    private var global: TokenBucket
    private let perAddressBurst = 5.0, perAddressRate = 1.0 / 12
    private let globalBurst = 60.0, globalRate = 1.0
    private let clock = ContinuousClock()

    init() { global = TokenBucket(burst: 60, now: ContinuousClock.now) }

    /// Compares `given` with each of `expected` if `address` may guess now, and counts a wrong
    /// guess. The limits are checked before the comparison, so a throttled guess learns nothing.
    func check(_ given: String, against expected: [String], kind: Kind, from address: String) -> Outcome {
        let now = clock.now
        var bucket = perAddress[address] ?? TokenBucket(burst: perAddressBurst, now: now)
        bucket.refill(burst: perAddressBurst, rate: perAddressRate, now: now)
        perAddress[address] = bucket
        guard bucket.tokens >= 1 else { return .throttled }
        global.refill(burst: globalBurst, rate: globalRate, now: now)
        // A wrong guess is remembered for ten minutes; a phone that mistyped long ago is no
        // longer held to the shared allowance.
        if let last = guessedWrong[address], now - last > Self.memory { guessedWrong[address] = nil }
        if kind == .joinCode, guessedWrong[address] != nil, global.tokens < 1 { return .throttled }
        // Every candidate is compared, so timing says nothing about which one was close.
        if expected.map({ AccessCodes.matches(given, $0) }).contains(true) { return .right }
        perAddress[address]!.tokens -= 1
        if kind == .joinCode {
            // Never below empty: fresh addresses' first guesses do not lock the rest out for long.
            global.tokens = max(0, global.tokens - 1)
            guessedWrong[address] = now
        }
        prune(now)
        return .wrong
    }

    private var joins: [String: TokenBucket] = [:]
    private let joinBurst = 10.0, joinRate = 1.0 / 30

    /// Whether `address` may take one more participant token now: ten, then one every 30 s,
    /// so one device cannot fill the node's participant places (``ParticipantRegistry``).
    func mayJoin(from address: String) -> Bool {
        if ServingLimits.isThisMachine(address) { return true }
        let now = clock.now
        var bucket = joins[address] ?? TokenBucket(burst: joinBurst, now: now)
        let allowed = bucket.take(burst: joinBurst, rate: joinRate, now: now)
        joins[address] = bucket
        if joins.count > 1000 { joins = joins.filter { now - $0.value.updated < .seconds(600) } }
        return allowed
    }

    static let memory: Duration = .seconds(600)

    private func prune(_ now: ContinuousClock.Instant) {
        let cutoff = now - Self.memory
        if perAddress.count > 1000 { perAddress = perAddress.filter { $0.value.updated > cutoff } }
        if guessedWrong.count > 1000 { guessedWrong = guessedWrong.filter { $0.value > cutoff } }
    }
}

/// The participants who joined, as random tokens, and what limits them, in memory only.
///
/// A token says nothing about who holds it. The tokens and the addresses that have written
/// to the open prompt, and the tokens that have resonated, are dropped when the prompt
/// changes, and never stored or logged (anonymity invariant 4). A phone with several tabs
/// holds several tokens but has one address: counting addresses too keeps one phone to one
/// reflection per prompt, so it cannot fill most of a batch and then know the rest
/// (docs/threat-model.md says what remains).
actor ParticipantRegistry {
    private var tokens: Set<String> = []
    private var wrote: Set<String> = []
    /// Addresses that wrote to the open prompt (which reflection is never known).
    private var wroteFrom: Set<String> = []
    private var resonated: Set<String> = []
    private var prompt: Int?
    static let maximum = 5_000

    /// A new token, or nil when the node already has its maximum of participants.
    func join() -> String? {
        guard tokens.count < Self.maximum else { return nil }
        let token = AccessCodes.newSecret()
        tokens.insert(token)
        return token
    }

    func knows(_ token: String) -> Bool { tokens.contains(token) }

    /// Called whenever the open prompt may have changed: forgets who wrote and resonated.
    func promptIs(_ open: Int?) {
        guard open != prompt else { return }
        prompt = open
        wrote.removeAll()
        wroteFrom.removeAll()
        resonated.removeAll()
    }

    /// The address of a device, or nil where an address does not stand for one phone: the
    /// laptop itself (its console, a test) or an unknown one.
    private static func device(_ address: String) -> String? {
        ServingLimits.isThisMachine(address) || address == "unknown" ? nil : address
    }

    /// Whether this page wrote to the open prompt.
    func hasWritten(_ token: String) -> Bool { wrote.contains(token) }

    enum Claim { case claimed, already, notOpen }

    /// Marks `token` (and its phone) as having written to `prompt`, if it is the open one and
    /// neither had.
    func claimWriting(_ token: String, from address: String, prompt: Int, open: Int?) -> Claim {
        promptIs(open)
        // For a prompt that is not open, the meeting's rules refuse, with their own message.
        guard prompt == open else { return .notOpen }
        guard !wrote.contains(token), Self.device(address).map(wroteFrom.contains) != true else { return .already }
        wrote.insert(token)
        if let device = Self.device(address) { wroteFrom.insert(device) }
        return .claimed
    }

    func unmarkWritten(_ token: String, from address: String) {
        wrote.remove(token)
        if let device = Self.device(address) { wroteFrom.remove(device) }
    }

    /// Marks that `token` resonated with `reflection`, if it had not.
    func claimResonance(_ token: String, with reflection: EventID) -> Bool {
        resonated.insert(token + reflection.hex).inserted
    }
    func resonatedIDs(_ token: String) -> [String] {
        resonated.filter { $0.hasPrefix(token) }.map { String($0.dropFirst(token.count)) }
    }
}
