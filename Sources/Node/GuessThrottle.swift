import Foundation
import Meeting

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
