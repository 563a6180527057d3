import NIOConcurrencyHelpers

/// Slows down one address that sends requests faster than any page would: a token bucket
/// per address, held in memory only (at most a few thousand addresses, pruned after a minute).
final class RequestRate: Sendable {
    private let buckets = NIOLockedValueBox<[String: TokenBucket]>([:])
    let rate: Double, burst: Double

    init(limits: ServingLimits) {
        rate = limits.requestsPerSecond
        burst = limits.requestBurst
    }

    func allow(_ address: String) -> Bool {
        if ServingLimits.isThisMachine(address) { return true }
        let now = ContinuousClock.now
        return buckets.withLockedValue { buckets in
            if buckets.count > 5000 {
                buckets = buckets.filter { now - $0.value.updated < .seconds(60) }
            }
            var bucket = buckets[address] ?? TokenBucket(burst: burst, now: now)
            let allowed = bucket.take(burst: burst, rate: rate, now: now)
            buckets[address] = bucket
            return allowed
        }
    }
}
