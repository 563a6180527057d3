import ArgumentParser
import Foundation
import Node

/// What sealing costs the node for one reflection: opening the phone's 8 KiB sealed request
/// (X25519, XSalsa20-Poly1305) and sealing the 4 KiB answer back, one at a time on one core.
struct BenchSeal: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "bench-seal", abstract: "The node's cost of one sealed reflection: open the request, seal the answer.")

    @Option var count = 2000

    func run() throws {
        var secret = [UInt8](repeating: 0, count: 32)
        for i in secret.indices { secret[i] = UInt8.random(in: 0...255) }
        let sealing = Sealing(secretKey: secret)
        let text = String(repeating: "میرے والد غصے میں چیختے تھے۔ ", count: 33)
        let message = try JSONSerialization.data(withJSONObject: ["op": "reflect", "token": "t", "body": ["prompt": 0, "text": text]])
        let requests = (0..<count).map { _ in Sealing.sealRequest(Array(message), to: sealing.publicKey).body }
        let reply = Array(#"{"body":{"received":true},"status":201}"#.utf8)
        var times: [Double] = []
        for request in requests {
            let start = ContinuousClock.now
            let opened = try sealing.open(request)
            _ = sealing.seal(reply, to: opened)
            times.append((ContinuousClock.now - start).seconds * 1_000_000)
        }
        times.sort()
        func at(_ p: Double) -> Double { times[min(times.count - 1, Int(Double(times.count) * p))] }
        print("sealed reflections opened and answered: \(count) (a \(text.count)-letter Urdu text each)")
        print(String(format: "node cost per sealed reflection p50 / p99 / max: %.0f / %.0f / %.0f µs", at(0.5), at(0.99), times.last!))
    }
}
