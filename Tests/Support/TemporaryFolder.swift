import Foundation

/// A data folder of the test's own, removed when the value goes away.
public final class TemporaryFolder: Sendable {
    public let path: String

    public init() {
        path = FileManager.default.temporaryDirectory.appendingPathComponent("halqa-test-\(UUID().uuidString)").path
        try! FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
    }

    deinit {
        // A store still closing on another thread (SQLite deletes its WAL as it closes) can
        // stop a removal midway, leaving the database: a second pass takes what is left.
        for pass in 0..<5 where FileManager.default.fileExists(atPath: path) {
            if pass > 0 { usleep(20_000 << pass) }
            try? FileManager.default.removeItem(atPath: path)
        }
    }

    /// Every byte of every file in the folder (the database, its WAL, anything else).
    public func allBytes() -> [UInt8] {
        let names = (try? FileManager.default.contentsOfDirectory(atPath: path)) ?? []
        return names.flatMap { Array(FileManager.default.contents(atPath: path + "/" + $0) ?? Data()) }
    }

    /// Every file under the folder that contains `needle`'s bytes.
    public func filesHolding(_ needle: String) throws -> [String] {
        let bytes = Data(needle.utf8)
        return try FileManager.default.subpathsOfDirectory(atPath: path).filter { name in
            guard let data = FileManager.default.contents(atPath: path + "/" + name) else { return false }
            return data.range(of: bytes) != nil
        }
    }
}
