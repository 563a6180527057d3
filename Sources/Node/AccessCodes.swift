import Meeting

/// The secrets that let people into a hosted session.
///
/// The join code is typed by participants: 8 characters from 30 that cannot be confused
/// (no 0/O, 1/I/L, U), 30^8 ≈ 6.6 × 10^11 possibilities; with guessing throttled to at most 60
/// wrong codes a minute for the whole node, a three-hour meeting allows about 10,800 guesses,
/// a chance of roughly 1 in 60 million. The facilitator's secret is 128 random bits and is never
/// typed: it travels in the console link's fragment.
public enum AccessCodes {
    static let alphabet = Array("23456789ABCDEFGHJKMNPQRSTVWXYZ")

    /// A new random join code, without the dash (see ``display(_:)``).
    public static func newJoinCode() -> String {
        var generator = SystemRandomNumberGenerator()
        return String((0..<8).map { _ in alphabet.randomElement(using: &generator)! })
    }

    /// A new facilitator secret: 26 characters of base32, 128 bits.
    public static func newFacilitatorSecret() -> String {
        var generator = SystemRandomNumberGenerator()
        return String((0..<26).map { _ in Array("abcdefghijklmnopqrstuvwxyz234567").randomElement(using: &generator)! })
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

/// Slows down guessing of join codes and facilitator secrets.
///
/// Each address may make 5 wrong guesses, then one more every 12 seconds; the whole node
/// accepts at most 60 wrong guesses a minute (one a second once the burst is spent). Addresses
/// are held in memory only, for at most ten minutes, and never logged.
actor GuessThrottle {
    private var perAddress: [String: TokenBucket] = [:]
    private var global: TokenBucket
    private let perAddressBurst = 5.0, perAddressRate = 1.0 / 12
    private let globalBurst = 60.0, globalRate = 1.0
    private let clock = ContinuousClock()

    init() { global = TokenBucket(burst: 60, now: ContinuousClock.now) }

    /// Whether a guess from `address` may be checked now.
    func mayGuess(from address: String) -> Bool {
        let now = clock.now
        global.refill(burst: globalBurst, rate: globalRate, now: now)
        var bucket = perAddress[address] ?? TokenBucket(burst: perAddressBurst, now: now)
        bucket.refill(burst: perAddressBurst, rate: perAddressRate, now: now)
        perAddress[address] = bucket
        return bucket.tokens >= 1 && global.tokens >= 1
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

    /// Records a wrong guess.
    func failed(from address: String) {
        perAddress[address, default: TokenBucket(burst: perAddressBurst, now: clock.now)].tokens -= 1
        global.tokens -= 1
        prune()
    }

    private func prune() {
        guard perAddress.count > 1000 else { return }
        let cutoff = clock.now - .seconds(600)
        perAddress = perAddress.filter { $0.value.updated > cutoff }
    }
}

/// The participants who joined, as random tokens, and what limits them, in memory only.
///
/// A token says nothing about who holds it. The set of tokens that have written to the open
/// prompt, and those that have resonated, are dropped when the prompt changes, and never
/// stored or logged (anonymity invariant 4).
actor ParticipantRegistry {
    private var tokens: Set<String> = []
    private var wrote: Set<String> = []
    private var resonated: Set<String> = []
    private var prompt: Int?
    static let maximum = 5_000

    /// A new token, or nil when the node already has its maximum of participants.
    func join() -> String? {
        guard tokens.count < Self.maximum else { return nil }
        let token = AccessCodes.newFacilitatorSecret()
        tokens.insert(token)
        return token
    }

    func knows(_ token: String) -> Bool { tokens.contains(token) }

    /// Called whenever the open prompt may have changed: forgets who wrote and resonated.
    func promptIs(_ open: Int?) {
        guard open != prompt else { return }
        prompt = open
        wrote.removeAll()
        resonated.removeAll()
    }

    func hasWritten(_ token: String) -> Bool { wrote.contains(token) }

    enum Claim { case claimed, already, notOpen }

    /// Marks `token` as having written to `prompt`, if it is the open one and it had not.
    func claimWriting(_ token: String, prompt: Int, open: Int?) -> Claim {
        promptIs(open)
        // For a prompt that is not open, the meeting's rules refuse, with their own message.
        guard prompt == open else { return .notOpen }
        return wrote.insert(token).inserted ? .claimed : .already
    }

    func unmarkWritten(_ token: String) { wrote.remove(token) }

    /// Marks that `token` resonated with `reflection`, if it had not.
    func claimResonance(_ token: String, with reflection: EventID) -> Bool {
        resonated.insert(token + reflection.hex).inserted
    }
    func resonatedIDs(_ token: String) -> [String] {
        resonated.filter { $0.hasPrefix(token) }.map { String($0.dropFirst(token.count)) }
    }
}
