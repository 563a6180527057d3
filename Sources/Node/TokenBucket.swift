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
