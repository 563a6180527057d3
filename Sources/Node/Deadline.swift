/// The node's one timeout helper: runs `operation` in this task and, if it has not finished
/// after `limit`, calls `onExpiry`, which must make it end (close its connection, finish its
/// stream). The timer is a child task, cancelled as soon as `operation` returns or throws.
///
/// ```swift
/// try await withDeadline(.seconds(10), onExpiry: { channel.close(promise: nil) }) {
///     try await readHello(&messages)
/// }
/// ```
func withDeadline<T>(
    _ limit: Duration, onExpiry: @escaping @Sendable () -> Void,
    _ operation: () async throws -> T
) async throws -> T {
    try await withThrowingTaskGroup(of: Void.self) { group in
        group.addTask {
            try await Task.sleep(for: limit)
            onExpiry()
        }
        defer { group.cancelAll() }
        return try await operation()
    }
}

/// Runs `operation` as a child task and returns its result, or nil if it has not finished
/// after `limit` (it is then cancelled).
///
/// ```swift
/// guard let body = try await withTimeout(.seconds(10), { try await request.body.collect(upTo: limit) }) else { throw APIError.tooSlow }
/// ```
func withTimeout<T: Sendable>(_ limit: Duration, _ operation: @escaping @Sendable () async throws -> T) async throws -> T? {
    try await withThrowingTaskGroup(of: T?.self) { group in
        group.addTask { try await operation() }
        group.addTask {
            try await Task.sleep(for: limit)
            return nil
        }
        defer { group.cancelAll() }
        return try await group.next() ?? nil
    }
}
