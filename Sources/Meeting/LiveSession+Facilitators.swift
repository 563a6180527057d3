import Foundation

/// What facilitators do: each action checked by the rules, signed, stored, then shown.
extension LiveSession {
    public func open(prompt: Int) async throws(MeetingError) { try await act(.promptOpened(prompt: prompt)) }
    public func close(prompt: Int) async throws(MeetingError) { try await act(.promptClosed(prompt: prompt)) }

    /// Reveals the prompt's pending reflections in one batch, in an order shuffled by this
    /// node's secure random generator, the same order every node will show.
    @discardableResult
    public func reveal(prompt: Int) async throws(MeetingError) -> [SessionState.Revealed] {
        try await facilitatorTurn { () throws(MeetingError) in
            var generator = SystemRandomNumberGenerator()
            let order = state.pendingIDs(prompt: prompt).sorted().shuffled(using: &generator)
            try await append(.reflectionsRevealed(prompt: prompt, order: order))
        }
        return state.revealed(prompt: prompt)
    }

    public func hide(_ reflection: EventID, reason: String) async throws(MeetingError) {
        let reason = try CheckedText(reason, limit: Limits.reasonCharacters, what: "The reason for hiding").value
        try await act(.reflectionHidden(reflection: reflection, reason: reason))
    }

    /// Writes a facilitator's note, on a prompt or (with `prompt` nil) on the whole session.
    public func writeNote(_ text: String, prompt: Int? = nil) async throws(MeetingError) {
        let text = try CheckedText(text, limit: Limits.noteCharacters, what: "A note").value
        try await act(.noteWritten(prompt: prompt, text: text))
    }

    /// Closes the session: the open prompt closes, its unrevealed reflections are destroyed,
    /// and the transcript becomes searchable.
    public func closeSession() async throws(MeetingError) { try await act(.sessionClosed) }

    /// Admits another node, after the facilitator compared its pairing code.
    public func admit(_ key: PublicKey, as role: Replica.Role, name: String) async throws(MeetingError) {
        try await act(.nodeAdmitted(key: key, role: role, name: name))
    }

    /// The room key and whether this node may hand it on (co-facilitators take reflections).
    public nonisolated var roomKeyForCoFacilitators: SigningKey? { roomSecret }

    private func act(_ body: EventBody) async throws(MeetingError) {
        try await facilitatorTurn { () throws(MeetingError) in try await append(body) }
    }

    private func append(_ body: EventBody, now: Date = Date()) async throws(MeetingError) {
        try refuseIfWiped()
        try state.check(body, by: nodeKey.publicKey)
        let event = Event.facilitator(body, session: id, by: nodeKey, at: LiveSession.milliseconds(now), clock: state.clock + 1)
        let next = state.inserting(event)
        if let reason = next.ignored[event.id] { throw MeetingError(.invalidEvent, reason.message) }
        try await store.save([event], resulting: next)
        // Into the state as it is now: participants and other nodes may have added to it while
        // this was being written, and a copy made before would drop what they added.
        replica.record(event)
        await settle()
        switch body {
        case .reflectionsRevealed, .promptClosed, .promptOpened, .sessionClosed: await store.checkpoint()
        default: break
        }
        await observer?(event, .facilitator)
    }

    /// Runs facilitator actions one at a time, so each takes the next Lamport clock.
    private func facilitatorTurn(_ work: () async throws(MeetingError) -> Void) async throws(MeetingError) {
        if facilitatorBusy {
            await withCheckedContinuation { facilitatorQueue.append($0) }
        } else {
            facilitatorBusy = true
        }
        defer {
            if facilitatorQueue.isEmpty { facilitatorBusy = false } else { facilitatorQueue.removeFirst().resume() }
        }
        try await work()
    }
}
