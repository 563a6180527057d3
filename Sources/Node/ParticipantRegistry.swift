import Foundation
import Meeting

/// The participants who joined, as random tokens, and what limits them, in memory only.
///
/// A token says nothing about who holds it. The tokens and the addresses that have written
/// to the open prompt, and the tokens that have resonated, are dropped when the prompt
/// changes, and never stored or logged (anonymity invariant 4). A phone with several tabs
/// holds several tokens but has one address: counting addresses too keeps one phone to one
/// reflection per prompt, so it cannot fill most of a batch and then know the rest
/// (docs/threat-model.md says what remains).
actor ParticipantRegistry {
    private var tokens: Set<String> = []
    private var wrote: Set<String> = []
    /// Addresses that wrote to the open prompt (which reflection is never known).
    private var wroteFrom: Set<String> = []
    /// The reflections (hex ids) each page resonated with, by its token.
    private var resonated: [String: Set<String>] = [:]
    private var prompt: Int?
    static let maximum = 5_000

    /// A new token, or nil when the node already has its maximum of participants.
    func join() -> String? {
        guard tokens.count < Self.maximum else { return nil }
        let token = AccessCodes.newSecret()
        tokens.insert(token)
        return token
    }

    func knows(_ token: String) -> Bool { tokens.contains(token) }

    /// Called whenever the open prompt may have changed: forgets who wrote and resonated.
    func promptIs(_ open: Int?) {
        guard open != prompt else { return }
        prompt = open
        wrote.removeAll()
        wroteFrom.removeAll()
        resonated.removeAll()
    }

    /// The address of a device, or nil where an address does not stand for one phone: the
    /// laptop itself (its console, a test) or an unknown one.
    private static func device(_ address: String) -> String? {
        ServingLimits.isThisMachine(address) || address == "unknown" ? nil : address
    }

    /// Whether this page wrote to the open prompt.
    func hasWritten(_ token: String) -> Bool { wrote.contains(token) }

    enum Claim { case claimed, already, notOpen }

    /// Marks `token` (and its phone) as having written to `prompt`, if it is the open one and
    /// neither had.
    func claimWriting(_ token: String, from address: String, prompt: Int, open: Int?) -> Claim {
        promptIs(open)
        // For a prompt that is not open, the meeting's rules refuse, with their own message.
        guard prompt == open else { return .notOpen }
        guard !wrote.contains(token), Self.device(address).map(wroteFrom.contains) != true else { return .already }
        wrote.insert(token)
        if let device = Self.device(address) { wroteFrom.insert(device) }
        return .claimed
    }

    func unmarkWritten(_ token: String, from address: String) {
        wrote.remove(token)
        if let device = Self.device(address) { wroteFrom.remove(device) }
    }

    /// Marks that `token` resonated with `reflection`, if it had not.
    func claimResonance(_ token: String, with reflection: EventID) -> Bool {
        resonated[token, default: []].insert(reflection.hex).inserted
    }
    /// What this page resonated with (one page's own: never a look over every page's taps).
    func resonatedIDs(_ token: String) -> [String] {
        Array(resonated[token] ?? [])
    }
}
