/// The rules of the meeting: what may happen next, and the error a person sees when it may not.
extension SessionState {
    /// Why `body`, signed by `signer`, cannot be applied to `state`; nil when it can.
    static func refusal(of body: EventBody, in state: SessionState, signer: PublicKey?) -> MeetingError? {
        if let signer, !body.isParticipant, !state.facilitators.contains(signer) {
            return MeetingError(.notAFacilitator, "Only a facilitator of this session can do that.")
        }
        if state.isClosed, !isAllowedAfterClose(body) {
            return MeetingError(.sessionClosed, "This session is closed; nothing more can be added to it.")
        }
        switch body {
        case .sessionCreated:
            return MeetingError(.invalidEvent, "A session is created only once.")
        case .promptOpened(let p):
            if let e = state.noSuchPrompt(p) { return e }
            if state.prompts[p].status != .waiting {
                return MeetingError(
                    .promptAlreadyOpened,
                    "Prompt \(p + 1) was already opened and closed; a closed prompt stays closed. Open another prompt.")
            }
        case .promptClosed(let p):
            if let e = state.noSuchPrompt(p) { return e }
            if state.prompts[p].status != .open { return state.notOpen(p) }
        case .reflectionsRevealed(let p, let order):
            if let e = state.noSuchPrompt(p) { return e }
            if state.prompts[p].status != .open { return state.notOpen(p) }
            // A check-in is revealed once: a second batch of counts, less the first, would
            // show what the few who answered late chose, and the room saw who they were.
            if state.created.deck.prompts[p].isCheckIn, !state.prompts[p].batches.isEmpty {
                return MeetingError(
                    .tooFewToReveal, "This check-in was revealed already; a check-in is revealed once, when everyone has answered.")
            }
            if order.count < state.created.minimumToReveal || Set(order).count != order.count {
                return state.tooFew(order.count, prompt: p)
            }
            if order.contains(where: state.revealedSet.contains) {
                return MeetingError(.invalidEvent, "Some of these reflections were already revealed.")
            }
        case .reflectionHidden(let r, let reason):
            if state.isCheckInAnswer(r) {
                return MeetingError(.notRevealed, "A check-in's answers are shown only as counts; there is nothing to hide.")
            }
            guard state.revealedSet.contains(r) else {
                return MeetingError(.notRevealed, "Only a revealed reflection can be hidden; this one has not been revealed.")
            }
            if state.hiddenReasons[r] != nil { return MeetingError(.alreadyHidden, "That reflection is already hidden.") }
            do { _ = try CheckedText(reason, limit: Limits.reasonCharacters, what: "The reason for hiding") } catch { return error }
        case .noteWritten(let p, let text):
            if let p, let e = state.noSuchPrompt(p) { return e }
            do { _ = try CheckedText(text, limit: Limits.noteCharacters, what: "A note") } catch { return error }
        case .facilitatorGranted:
            if signer != state.creator {
                return MeetingError(.notAFacilitator, "Only the node that created the session can grant facilitation.")
            }
        case .nodeAdmitted(let key, let role, let name):
            if state.facilitators.contains(key) || state.archivists.contains(key) {
                return MeetingError(.alreadyAdmitted, "That node is already admitted to this session.")
            }
            if role == .coFacilitator, state.isClosed {
                return MeetingError(.sessionClosed, "This session is closed; a node can join it only as an archivist now.")
            }
            do { _ = try CheckedText(name, limit: Limits.nodeNameCharacters, what: "A node's name") } catch { return error }
        case .sessionClosed:
            break
        case .reflectionSubmitted(let p, let text, _):
            if let e = state.noSuchPrompt(p) { return e }
            if state.prompts[p].status != .open { return state.notOpen(p) }
            // A check-in's answer is one of its options ("0" …), written as a reflection is,
            // taken until its one reveal.
            if let scale = state.created.deck.prompts[p].scale {
                if !state.prompts[p].batches.isEmpty {
                    return MeetingError(.promptNotOpen, "This check-in's answers were already shown; it takes no more.")
                }
                guard scale.option(text) != nil else {
                    return MeetingError(
                        .notAnOption, "Prompt \(p + 1) is a check-in: answer it by tapping one of its \(scale.options) pictures.")
                }
                return nil
            }
            do { _ = try CheckedText(text, limit: Limits.reflectionCharacters, what: "A reflection") } catch { return error }
        case .resonated(let r, _):
            guard state.isRevealed(r), !state.isCheckInAnswer(r) else {
                return MeetingError(
                    .noSuchReflection, "That reflection is not among the revealed ones; you can resonate only with a revealed reflection.")
            }
            if state.hiddenReasons[r] != nil {
                return MeetingError(.noSuchReflection, "That reflection was hidden by the facilitator.")
            }
            // The room taps what it sees now: a reflection of the prompt still open.
            // Shown (checked above) and of the open prompt: no need to build the prompt's list.
            guard let open = state.openPrompt, state.reflections[r]?.prompt == open else {
                return MeetingError(.notResonable, "You can resonate only with a shown reflection of the open prompt.")
            }
        }
        return nil
    }

    private static func isAllowedAfterClose(_ body: EventBody) -> Bool {
        // An organiser's archive may be admitted to a finished session. (A resonance that
        // arrives late by replication still counts: the fold takes participants' events
        // without these rules, which only a node taking a tap from a phone applies.)
        switch body {
        case .nodeAdmitted(_, .archivist, _): true
        default: false
        }
    }

    private func noSuchPrompt(_ p: Int) -> MeetingError? {
        prompts.indices.contains(p)
            ? nil
            : MeetingError(.noSuchPrompt, "There is no prompt \(p + 1); this deck has \(prompts.count).")
    }

    private func notOpen(_ p: Int) -> MeetingError {
        if let open = openPrompt {
            return MeetingError(.promptNotOpen, "Prompt \(p + 1) is not open; prompt \(open + 1) is. Reflections go to the open prompt.")
        }
        return MeetingError(
            .promptNotOpen, "Prompt \(p + 1) is not open, and no prompt is open right now. Wait for the facilitator to open one.")
    }

    private func tooFew(_ count: Int, prompt: Int) -> MeetingError {
        let minimum = created.minimumToReveal
        let since = prompts[prompt].batches.isEmpty ? "" : " new since the last reveal"
        return MeetingError(
            .tooFewToReveal,
            "Only \(count) reflection\(count == 1 ? "" : "s")\(since) for prompt \(prompt + 1); at least \(minimum) are needed before revealing, so that no one's words stand alone. Wait for more."
        )
    }

    /// Throws the error a person would see if `body` were attempted now.
    public func check(_ body: EventBody, by signer: PublicKey?) throws(MeetingError) {
        if let refusal = refusal(of: body, by: signer) { throw refusal }
    }

    /// The error a person would see if `body` were attempted now, or nil if the rules allow it.
    public func refusal(of body: EventBody, by signer: PublicKey?) -> MeetingError? {
        SessionState.refusal(of: body, in: self, signer: signer)
    }
}
