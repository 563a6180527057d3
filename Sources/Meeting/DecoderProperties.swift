import Foundation

/// What must hold for any bytes at all given to the decoders that read untrusted input: a
/// replication frame from another machine, an event, a deck file, a transcript to import. Each function returns
/// normally for any input (a refusal is a normal outcome) and traps only when a property
/// fails. The fuzzers (`Sources/halqa-fuzz`, libFuzzer) and the regression test over every
/// input they ever found (`Tests/fuzz`) call these.
public enum DecoderProperties {
    /// A frame either is refused or decodes to a message that encodes and decodes to itself.
    public static func peerMessage(_ bytes: [UInt8]) {
        guard let message = try? PeerMessage(decoding: bytes) else { return }
        let again = try? PeerMessage(decoding: message.encoded())
        precondition(again == message, "a decoded replication message does not survive encoding")
    }

    /// An event either is refused or is exactly its canonical bytes, with the id of its bytes.
    public static func event(_ bytes: [UInt8]) {
        canonicalJSON(bytes)
        plainJSON(bytes)
        base64(bytes)
        guard let event = try? Event(bytes: bytes) else { return }
        precondition(event.bytes == bytes, "an accepted event is not its own bytes")
        precondition((try? JSONValue(canonical: bytes))?.canonicalBytes == bytes, "an accepted event is not canonical JSON")
        precondition(event.id == EventID.of(bytes), "an accepted event's id is not the hash of its bytes")
        guard case .object(var unsigned)? = try? JSONValue(canonical: bytes) else { return }
        unsigned["sig"] = nil
        precondition(
            event.signedBytes == JSONValue.object(unsigned).canonicalBytes, "what an event's signature covers is not its bytes without it")
    }

    /// The one-pass base64 reader takes exactly what Foundation's decoder and the spelling
    /// check took together (the one spelling of some bytes), and reads the same bytes.
    public static func base64(_ bytes: [UInt8]) {
        let text = String(decoding: bytes, as: UTF8.self)
        let reference = Data(base64Encoded: text).flatMap { Base64Spelling.isCanonical(text.utf8, of: $0.count) ? Array($0) : nil }
        precondition(Base64Spelling.decode(text) == reference, "the base64 reader and Foundation's with the spelling check disagree")
    }

    /// The canonical parser accepts exactly what Foundation's parser reads and writes back to
    /// the same bytes (nesting beyond ``JSONParser/maxDepth`` aside), with the same value.
    public static func canonicalJSON(_ bytes: [UInt8]) {
        let fast = try? JSONValue(canonical: bytes)
        let reference = try? JSONValue(referenceCanonical: bytes)
        if let fast { precondition(fast.canonicalBytes == bytes, "the canonical parser accepted bytes that are not canonical") }
        precondition(
            fast == reference || (fast == nil && (reference?.depth ?? 0) > JSONParser.maxDepth),
            "the canonical parser and Foundation's disagree")
    }

    /// What the plain parser (API requests, pages' messages) accepts, Foundation's reads as the
    /// same value; canonical JSON reads the same in both forms; and what a value writes reads back.
    public static func plainJSON(_ bytes: [UInt8]) {
        guard let plain = JSONValue(json: bytes) else {
            precondition((try? JSONValue(canonical: bytes)) == nil, "the plain parser refused canonical JSON")
            return
        }
        let reference = try? JSONDecoder().decode(JSONValue.self, from: Data(bytes))
        precondition(reference == plain, "the plain parser and Foundation's disagree")
        if let canonical = try? JSONValue(canonical: bytes) {
            precondition(canonical == plain, "the two forms read canonical JSON differently")
        }
        precondition(JSONValue(json: plain.canonicalBytes) == plain, "a value's canonical bytes do not read back as it")
    }

    /// A transcript file split in two (``TranscriptFile``: its events' base64 read from the
    /// bytes, the rest given to Foundation's decoder) reads exactly as the whole file does: the
    /// same JSON with the same events, and the same transcript, or a refusal both ways.
    public static func transcript(_ bytes: [UInt8]) {
        let data = Data(bytes)
        guard let file = TranscriptFile(data) else { return }
        // With a string too short to be an event, the events after it are not read: the two
        // readings are compared without events.
        let cut = file.shortEvent != nil
        let events = cut ? [] : file.events.map { String(decoding: bytes[$0], as: UTF8.self) }
        var whole = try? JSONDecoder().decode(JSONValue.self, from: data)
        if cut, case .object(var members)? = whole {
            members["events"] = .array([])
            whole = .object(members)
        }
        var split = try? JSONDecoder().decode(JSONValue.self, from: file.readable)
        if case .object(var members)? = split {
            precondition(members["events"] == .array([]), "the readable part of a split transcript still has events")
            members["events"] = .array(events.map(JSONValue.string))
            split = .object(members)
        }
        precondition(split == whole, "a transcript split in two reads otherwise than the whole file")
        var readable = try? JSONDecoder().decode(Transcript.self, from: file.readable)
        readable?.events = events
        var wholeTranscript = try? JSONDecoder().decode(Transcript.self, from: data)
        if cut { wholeTranscript?.events = [] }
        precondition(readable == wholeTranscript, "a split transcript decodes otherwise")
    }

    /// A deck either is refused with at least one problem, each on a line of the file, or has
    /// a title and prompts that each have text.
    public static func deck(_ bytes: [UInt8]) {
        switch DeckParser.parse(bytes) {
        case .success(let deck):
            precondition(!deck.prompts.isEmpty, "a deck was accepted without prompts")
            precondition(deck.prompts.allSatisfy { !$0.text.languages.isEmpty }, "a prompt was accepted without text")
        case .failure(let failure):
            let lines = bytes.split(separator: UInt8(ascii: "\n"), omittingEmptySubsequences: false).count
            precondition(!failure.problems.isEmpty, "a deck was refused without a reason")
            precondition(failure.problems.allSatisfy { $0.line >= 0 && $0.line <= lines }, "a problem points past the file's end")
        }
    }
}

extension JSONValue {
    /// How deeply arrays and objects nest in this value (a scalar is 0 deep).
    var depth: Int {
        switch self {
        case .array(let items): 1 + (items.map(\.depth).max() ?? 0)
        case .object(let fields): 1 + (fields.values.map(\.depth).max() ?? 0)
        default: 0
        }
    }
}
