import Foundation
import Logging

/// The node's log: lines at `.warning` and above, written to standard error much as swift-log's
/// `StreamLogHandler` writes them (time in UTC, no source). That handler formats its metadata
/// each time it is set, and Hummingbird sets a request id on every request's logger, so every
/// request paid for a line a node prints only when something is wrong; this one formats only
/// the lines it writes.
public struct NodeLogHandler: LogHandler {
    public var metadata: Logger.Metadata = [:]
    public var logLevel: Logger.Level
    let label: String

    public init(label: String, level: Logger.Level = .warning) {
        self.label = label
        self.logLevel = level
    }

    /// A logger that writes through this handler.
    public static func logger(_ label: String, level: Logger.Level = .warning) -> Logger {
        Logger(label: label) { NodeLogHandler(label: $0, level: level) }
    }

    public subscript(metadataKey key: String) -> Logger.Metadata.Value? {
        get { metadata[key] }
        set { metadata[key] = newValue }
    }

    public func log(event: LogEvent) {
        let all = metadata.merging(event.metadata ?? [:]) { $1 }
        let fields = all.isEmpty ? "" : " " + all.sorted { $0.key < $1.key }.map { "\($0.key)=\($0.value)" }.joined(separator: " ")
        let time = Date().formatted(.iso8601)
        // One write per line; a closed standard error loses the line, never the node.
        try? FileHandle.standardError.write(contentsOf: Data("\(time) \(event.level) \(label):\(fields) \(event.message)\n".utf8))
    }
}
