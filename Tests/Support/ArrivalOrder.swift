import Foundation

/// Reads data folders as an adversary who took the laptop would: the bytes of every file, and
/// the offsets at which each reflection's text lies, to see whether placement follows the
/// order in which reflections arrived (anonymity invariant 2).
///
/// ```swift
/// var order = ArrivalOrder()
/// order.add(texts: submittedInOrder, folders: ["host": folderA, "co-facilitator": folderB])
/// #expect(order.worst.z < ArrivalOrder.limit, "\(order.report)")
/// ```
public struct ArrivalOrder: Sendable {
    /// Per channel (node, file, page): the sum of ρ·√(m−1) over runs and the runs counted.
    public private(set) var channels: [String: (sum: Double, runs: Int, same: Int)] = [:]

    /// |z| above this fails: about 1 in 150,000 per channel by chance, while a placement that
    /// follows arrival gives z ≈ √(runs·(m−1)), 8 or more after 30 runs of 3.
    public static let limit = 4.5

    public init() {}

    /// The bytes of every file in `folder` (not recursing), by name.
    public static func files(in folder: String) -> [(name: String, bytes: Data)] {
        let names = (try? FileManager.default.contentsOfDirectory(atPath: folder)) ?? []
        return names.sorted().compactMap { name in
            FileManager.default.contents(atPath: folder + "/" + name).map { (name, $0) }
        }
    }

    /// Every offset at which `needle` starts in `hay`. Foundation's search is compiled
    /// optimised, so a test that scans megabytes does not hold for long one of the two
    /// threads every other test shares.
    public static func offsets(of needle: [UInt8], in hay: Data) -> [Int] {
        guard !needle.isEmpty else { return [] }
        let pattern = Data(needle)
        var found: [Int] = []
        var from = hay.startIndex
        while from < hay.endIndex, let hit = hay.range(of: pattern, in: from..<hay.endIndex) {
            found.append(hit.lowerBound - hay.startIndex)
            from = hit.upperBound
        }
        return found
    }

    /// Spearman's ρ between the submitted order and the order found, for a list of submitted
    /// indices in the order found (any subset of at least 3).
    public static func spearman(_ found: [Int]) -> Double {
        let m = found.count
        guard m >= 3 else { return 0 }
        let ranks = found.map { index in found.filter { $0 < index }.count }
        let d2 = ranks.enumerated().map { Double(($0.offset - $0.element) * ($0.offset - $0.element)) }.reduce(0, +)
        return 1 - 6 * d2 / Double(m * (m * m - 1))
    }

    /// Records one run: `texts` in the order they were submitted, searched in every file of
    /// every folder. Within a file, each page (4 KiB, SQLite's page size here) that holds at
    /// least three of the texts is one channel: the j-th such page of a file lies in the same
    /// structure run after run (a table's leaf, the search index's content, a WAL frame).
    public mutating func add(texts: [String], folders: [(node: String, path: String)], phase: String) {
        let needles = texts.map { Array($0.utf8) }
        for (node, path) in folders {
            for (name, bytes) in Self.files(in: path) {
                var pages: [Int: [(text: Int, offset: Int)]] = [:]
                for (i, needle) in needles.enumerated() {
                    for offset in Self.offsets(of: needle, in: bytes) { pages[offset / Self.pageSize, default: []].append((i, offset)) }
                }
                for (j, page) in pages.keys.sorted().filter({ pages[$0]!.count >= 3 }).enumerated() {
                    let order = pages[page]!.sorted { $0.offset < $1.offset }.map(\.text)
                    let key = "\(phase): \(node) \(name) page \(j + 1)"
                    var entry = channels[key] ?? (0, 0, 0)
                    entry.sum += Self.spearman(order) * Double(order.count - 1).squareRoot()
                    entry.runs += 1
                    if order == order.sorted() || order == order.sorted().reversed() { entry.same += 1 }
                    channels[key] = entry
                }
            }
        }
    }

    static let pageSize = 4096

    /// Each channel's z: under independence about normal with mean 0 and variance 1.
    public var scores: [(channel: String, z: Double, runs: Int, same: Int)] {
        channels.map { ($0.key, $0.value.sum / Double($0.value.runs).squareRoot(), $0.value.runs, $0.value.same) }
            .sorted { abs($0.z) > abs($1.z) }
    }

    /// The channel that follows arrival order most.
    public var worst: (channel: String, z: Double, runs: Int, same: Int)? { scores.first }

    /// Every channel, one line each, worst first.
    public var report: String {
        scores.map { "\($0.channel): z = \(String(format: "%.2f", $0.z)) over \($0.runs) runs (\($0.same) in submitted or reverse order)" }
            .joined(separator: "\n")
    }
}
