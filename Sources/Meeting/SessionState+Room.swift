/// What the room sees, and where each participant's event belongs on disk.
extension SessionState {
    /// The prompt's revealed reflections in the order every node shows, hidden ones marked.
    ///
    /// A batch is shown only once this node holds at least the minimum of its reflections for
    /// this prompt: a reveal that lists ids nobody holds (or another prompt's) cannot make one
    /// person's words stand alone (anonymity invariant 3).
    public func revealed(prompt: Int) -> [Revealed] {
        guard prompts.indices.contains(prompt) else { return [] }
        return prompts[prompt].batches.filter { isShown(batch: $0, prompt: prompt) }.joined().compactMap { id in
            guard let r = reflections[id], r.prompt == prompt else { return nil }
            let hidden = hiddenReasons[id]
            return Revealed(id: id, text: r.text, resonance: hidden == nil ? resonances[id]?.count ?? 0 : 0, hiddenReason: hidden)
        }
    }

    /// How many reflections ``revealed(prompt:)`` lists, and how many of those are not hidden,
    /// counted without building them (a save recounts every prompt: ``ArchiveEntry``).
    func revealedCounts(prompt: Int) -> (shown: Int, visible: Int) {
        guard prompts.indices.contains(prompt) else { return (0, 0) }
        var counts = (shown: 0, visible: 0)
        for batch in prompts[prompt].batches where isShown(batch: batch, prompt: prompt) {
            for id in batch where reflections[id]?.prompt == prompt {
                counts.shown += 1
                if hiddenReasons[id] == nil { counts.visible += 1 }
            }
        }
        return counts
    }

    /// Whether `id` is an answer to a check-in (shown only in its counts, never on its own).
    public func isCheckInAnswer(_ id: EventID) -> Bool {
        guard let r = reflections[id] else { return false }
        return created.deck.prompts[r.prompt].isCheckIn
    }

    /// A check-in's revealed answers, counted per option (``CheckInScale/optionNames`` order);
    /// nil for a written prompt. All zeros until its reveal (one, of at least the minimum).
    public func checkInCounts(prompt: Int) -> [Int]? {
        guard prompts.indices.contains(prompt), let scale = created.deck.prompts[prompt].scale else { return nil }
        var counts = Array(repeating: 0, count: scale.options)
        let open = isAccepting(prompt: prompt)
        for batch in prompts[prompt].batches where isShown(batch: batch, prompt: prompt) {
            // While the check-in is open, its batch counts only once this node holds all of
            // it: counts that rose one late answer at a time would show each late answer.
            if open, !batch.allSatisfy({ reflections[$0] != nil }) { continue }
            for id in batch {
                if let r = reflections[id], r.prompt == prompt, let option = scale.option(r.text) { counts[option] += 1 }
            }
        }
        return counts
    }

    /// Reflections that arrived for the open prompt and are not yet revealed. Their text is
    /// shown to no one; only their number is.
    public func pendingIDs(prompt: Int) -> [EventID] {
        guard isAccepting(prompt: prompt) else { return [] }
        return reflections.filter { $0.value.prompt == prompt && !revealedSet.contains($0.key) }.map(\.key)
    }

    public func pendingCount(prompt: Int) -> Int { pendingIDs(prompt: prompt).count }

    /// Reflections held that will never be shown: their prompt closed before they were
    /// revealed. Every node destroys them.
    /// The reflections destroyed once `events` were added: only those among them, unless one
    /// could change a prompt's status (then all are looked at).
    public func destroyedIDs(after events: [Event]) -> [EventID] {
        let local = events.allSatisfy { event in
            switch event.body {
            case .reflectionSubmitted, .resonated, .noteWritten, .reflectionHidden, .nodeAdmitted, .facilitatorGranted: true
            default: false
            }
        }
        guard local else { return destroyedIDs }
        return events.compactMap { event in
            guard let r = reflections[event.id] else { return nil }
            let pending = !isClosed && prompts[r.prompt].status == .open
            return (revealedSet.contains(event.id) || pending) ? nil : event.id
        }
    }

    public var destroyedIDs: [EventID] {
        reflections.compactMap { id, r in
            let p = prompts[r.prompt]
            let pending = !isClosed && p.status == .open
            return (revealedSet.contains(id) || pending) ? nil : id
        }
    }

    /// Whether a reflection is held and shown as revealed (hidden or not).
    public func isRevealed(_ reflection: EventID) -> Bool {
        guard revealedSet.contains(reflection), let r = reflections[reflection] else { return false }
        return batch(containing: reflection, prompt: r.prompt).map { isShown(batch: $0, prompt: r.prompt) } ?? false
    }

    /// Every reflection ``isRevealed(_:)`` holds true of, each batch looked over once (not
    /// once for each of its reflections): for what looks at all of a session's reflections.
    func revealedReflections() -> Set<EventID> {
        var out = Set<EventID>(minimumCapacity: revealedSet.count)
        for (p, prompt) in prompts.enumerated() {
            for (k, batch) in prompt.batches.enumerated() where isShown(batch: batch, prompt: p) {
                for id in batch where prompt.batchOf[id] == k && reflections[id]?.prompt == p && revealedSet.contains(id) {
                    out.insert(id)
                }
            }
        }
        return out
    }

    /// Whether a revealed batch holds at least the minimum of this prompt's reflections here.
    func isShown(batch: [EventID], prompt: Int) -> Bool {
        batch.lazy.filter { self.reflections[$0]?.prompt == prompt }.count >= created.minimumToReveal
    }

    private func batch(containing reflection: EventID, prompt: Int) -> [EventID]? {
        prompts[prompt].batchOf[reflection].map { prompts[prompt].batches[$0] }
    }

    /// Where a participant's event belongs on disk (docs/storage.md, ``TranscriptStore/settle(_:)``).
    public enum Placement: Sendable, Equatable {
        /// In the pending file: its place in a file could still say when it arrived.
        case pending
        /// In the main file, copied there in a batch.
        case settled
        /// Nowhere: destroyed, refused, or not this node's to keep.
        case discarded
    }

    /// Whether this state holds the participant's event `id` and keeps it (not refused, and
    /// not destroyed with a prompt that closed unrevealed).
    public func keeps(_ id: EventID) -> Bool { events[id] != nil && placement(of: id) != .discarded }

    /// Where the participant's event `id` belongs on disk now. An event this state does not
    /// hold stays where it is (it may have been stored a moment before the state took it in).
    /// A revealed reflection settles with its whole batch, once every reflection of the batch
    /// is held (or its prompt has closed), so that one that reached this node late is not
    /// written apart from the others; a resonance settles once its session has closed, all of
    /// them together.
    public func placement(of id: EventID) -> Placement {
        var complete: [BatchKey: Bool] = [:]
        return placement(of: id, complete: &complete)
    }

    /// ``placement(of:)`` for many events at once: each batch is looked over once, not once for each of its reflections.
    public func placements(of ids: [EventID]) -> [Placement] {
        var complete: [BatchKey: Bool] = [:]
        return ids.map { placement(of: $0, complete: &complete) }
    }

    private struct BatchKey: Hashable {
        var prompt: Int
        var batch: Int
    }

    /// ``placements(of:)`` for events this state holds, given whole: each event is not looked
    /// up again in the state's persistent dictionary, which for 100,000 events cost more than
    /// everything else here together (about 0.2 s of one core, after a joining node's person
    /// confirmed; perf).
    func placements(ofHeld held: [Event]) -> [Placement] {
        var complete: [BatchKey: Bool] = [:]
        return held.map { event in
            assert(events[event.id] != nil, "placements(ofHeld:) of an event the state does not hold")
            return placement(of: event, complete: &complete)
        }
    }

    private func placement(of id: EventID, complete: inout [BatchKey: Bool]) -> Placement {
        guard let event = events[id] else { return .pending }
        return placement(of: event, complete: &complete)
    }

    private func placement(of event: Event, complete: inout [BatchKey: Bool]) -> Placement {
        let id = event.id
        guard ignored[id] == nil else { return .discarded }
        switch event.body {
        case .reflectionSubmitted:
            guard let r = reflections[id] else { return .discarded }
            let open = isAccepting(prompt: r.prompt)
            guard revealedSet.contains(id) else { return open ? .pending : .discarded }
            guard open, let k = prompts[r.prompt].batchOf[id] else { return .settled }
            let key = BatchKey(prompt: r.prompt, batch: k)
            if complete[key] == nil { complete[key] = prompts[r.prompt].batches[k].allSatisfy { reflections[$0] != nil } }
            return complete[key]! ? .settled : .pending
        case .resonated:
            return isClosed ? .settled : .pending
        default:
            return .settled
        }
    }

    /// The other reflections revealed in the same batch as `reflection` (none if it is not a
    /// revealed reflection).
    func batchMates(of reflection: EventID) -> [EventID] {
        guard let r = reflections[reflection], let batch = batch(containing: reflection, prompt: r.prompt) else { return [] }
        return batch.filter { $0 != reflection }
    }

    /// The events a transcript carries: everything but pending and destroyed reflections,
    /// hidden reflections with their resonances, and the hide events (their reasons are for
    /// facilitators only).
    public var exportableEvents: [Event] {
        let exportable = exportableTest()
        return events.values.filter(exportable).sorted { $0.id < $1.id }
    }

    /// Whether `exportableEvents` is exactly `listed`, as a transcript lists them: without
    /// sorting the session's events again (the check of a 100,000-event file spent about
    /// 0.15 s of one core sorting them, perf).
    func exports(exactly listed: [Event]) -> Bool {
        let exportable = exportableTest()
        return zip(listed, listed.dropFirst()).allSatisfy { $0.id < $1.id }
            && listed.allSatisfy { events[$0.id] != nil && exportable($0) }
            && events.values.lazy.filter(exportable).count == listed.count
    }

    /// A test of whether a transcript carries an event of this session (``exportableEvents``).
    private func exportableTest() -> (Event) -> Bool {
        let revealed = revealedReflections()
        return { event in
            guard ignored[event.id] == nil else { return false }
            switch event.body {
            case .reflectionSubmitted: return revealed.contains(event.id) && hiddenReasons[event.id] == nil
            case .resonated(let r, _): return revealed.contains(r) && hiddenReasons[r] == nil
            case .reflectionHidden: return false
            default: return true
            }
        }
    }
}
