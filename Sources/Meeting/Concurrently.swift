/// Work spread over every core, for what a large session costs: decoding and verifying its
/// events when a node catches up or a transcript is imported.
enum Concurrently {
    /// `transform` over `items`, in order, in chunks run as child tasks (the cooperative pool
    /// has a thread per core). Few items are mapped in place. Every chunk is queued at once and
    /// keeps its thread until done: not for a node that serves phones meanwhile (joining runs
    /// before the node serves; an import is a process of its own).
    static func map<T: Sendable, U: Sendable>(
        _ items: [T], chunk: Int = 256, _ transform: @escaping @Sendable (T) -> U
    ) async -> [U] {
        guard items.count > chunk else { return items.map(transform) }
        let parts = await withTaskGroup(of: (Int, [U]).self) { group in
            for start in stride(from: 0, to: items.count, by: chunk) {
                let slice = items[start..<min(start + chunk, items.count)]
                group.addTask { (start / chunk, slice.map(transform)) }
            }
            var parts = [[U]](repeating: [], count: (items.count + chunk - 1) / chunk)
            for await (k, part) in group { parts[k] = part }
            return parts
        }
        return Array(parts.joined())
    }
}
