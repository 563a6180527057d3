import CompressNIO
import Foundation
import NIOCore

/// What changed in the room's view from one version to the next: what a page that holds
/// version `from` needs to hold `version`, and nothing it already has. Each revealed text
/// crosses the air once per phone, not once per change of a count (docs/hosting.md, "Airtime").
///
/// Fields are present only when they changed. The shown reflections change in one of three
/// ways: anew (`revealed`: another prompt, or an order that is not the old one's with some
/// left out and some added at the end); some no longer shown (`drop`, by id) and some added
/// after the rest (`add`); or only their counts (`counts`: every shown reflection's count, in
/// the new order, sent when any count changed).
struct RoomDelta: Codable, Sendable, Equatable {
    var epoch: String
    var from: Int
    var version: Int
    var session: ParticipantView.Session?
    var prompt: ParticipantView.PromptView?
    var nodes: [String]?
    var revealed: [ParticipantView.Shown]?
    var drop: [String]?
    var add: [ParticipantView.Shown]?
    var counts: [Int]?
    /// A check-in's counts and chart: sent whole when they changed, and with every new prompt
    /// (absent then, a written prompt has none).
    var checkIn: ParticipantView.CheckInView?

    /// What turns `old` into `new`; nil when only the whole view says it (the prompt went away).
    init?(from old: ParticipantView, to new: ParticipantView) {
        guard new.prompt != nil || old.prompt == nil else { return nil }
        guard new.checkIn != nil || old.checkIn == nil || new.prompt?.index != old.prompt?.index else { return nil }
        if new.prompt != old.prompt || new.checkIn != old.checkIn { checkIn = new.checkIn }
        epoch = new.epoch
        from = old.version
        version = new.version
        if new.session != old.session { session = new.session }
        if new.prompt != old.prompt { prompt = new.prompt }
        if new.nodes != old.nodes { nodes = new.nodes }
        guard new.revealed != old.revealed else { return }
        let newIDs = Set(new.revealed.map(\.id))
        let kept = old.revealed.filter { newIDs.contains($0.id) }
        let keptIDs = Set(kept.map(\.id))
        let samePrompt = new.prompt?.index == old.prompt?.index
        guard samePrompt, kept.map(\.id) == new.revealed.prefix(kept.count).map(\.id) else {
            revealed = new.revealed
            return
        }
        let dropped = old.revealed.filter { !newIDs.contains($0.id) }.map(\.id)
        if !dropped.isEmpty { drop = dropped }
        let added = new.revealed.filter { !keptIDs.contains($0.id) }
        if !added.isEmpty { add = added }
        if zip(kept, new.revealed).contains(where: { $0.resonance != $1.resonance }) { counts = new.revealed.map(\.resonance) }
    }

    /// `view` with this change made; nil unless `view` is the version this change starts from.
    func applied(to view: ParticipantView) -> ParticipantView? {
        guard view.epoch == epoch, view.version == from else { return nil }
        var next = view
        next.version = version
        if let session { next.session = session }
        if let prompt { next.prompt = prompt }
        if prompt != nil || checkIn != nil { next.checkIn = checkIn }
        if let nodes { next.nodes = nodes }
        if let revealed { next.revealed = revealed }
        if let drop { next.revealed.removeAll { drop.contains($0.id) } }
        if let add { next.revealed += add }
        if let counts {
            guard counts.count == next.revealed.count else { return nil }
            for i in counts.indices { next.revealed[i].resonance = counts[i] }
        }
        return next
    }
}

/// A version of the room's view a page says it holds: `EPOCH.VERSION`, as the view said it.
struct HeldView: Sendable, Equatable {
    var epoch: String
    var version: Int

    init(epoch: String, version: Int) {
        self.epoch = epoch
        self.version = version
    }

    init?(_ text: String) {
        let parts = text.split(separator: ".", omittingEmptySubsequences: false)
        guard parts.count == 2, parts[0].count <= 32, let version = Int(parts[1]), version >= 0 else { return nil }
        self.init(epoch: String(parts[0]), version: version)
    }
}

/// The room's view as phones follow it: the versions the room saw lately, and what a page
/// that holds one of them is sent, sealed with the view key once for each version it starts
/// from and way it asks (deflated or not), so that every page in step that asks alike
/// receives the same bytes at the same moment.
struct RoomFeed {
    /// How many past versions a page may hold and still be sent only what changed.
    static let kept = 64
    /// New each time the node starts (a page's held version means nothing to another node).
    let epoch = Base64URL.encode(Array(Sealing.randomNonce().prefix(9)))
    private let key: [UInt8]
    private var views: [Int: ParticipantView] = [:]
    private(set) var current: ParticipantView?
    /// What was sealed for the current version, by the version a page holds (-1: none) and
    /// whether it asked for the view deflated: looked up before anything is worked out, as
    /// every page in step asks at once.
    private var sealed: [Asked: [UInt8]] = [:]
    private struct Asked: Hashable {
        var from: Int
        var deflated: Bool
    }

    init(viewKey: [UInt8]) { key = viewKey }

    /// The room now shows `view`.
    mutating func record(_ view: ParticipantView) {
        current = view
        views[view.version] = view
        views = views.filter { $0.key > view.version - Self.kept }
        sealed = [:]
    }

    /// What a page that holds `held` is sent, sealed: what changed since, or the whole view
    /// (nothing held, another node's, older than the versions kept, or a change only the whole
    /// view says); nil if it holds the current version already. A page that takes it
    /// `deflated` gets the JSON in zlib's format (``ViewDeflation``) when that is smaller: the
    /// whole view, and the change from the version before, which every page in step holds. A
    /// page further behind (a lost socket) gets its change as JSON: so a version costs the
    /// node at most two deflations, however many `since`s anyone asks for.
    mutating func update(since held: HeldView?, deflated asked: Bool = false) -> (sealed: [UInt8], version: HeldView)? {
        guard let current else { return nil }
        let now = HeldView(epoch: epoch, version: current.version)
        if held == now { return nil }
        let start = held.flatMap { $0.epoch == epoch ? views[$0.version] : nil }
        let asking = Asked(from: start?.version ?? -1, deflated: asked)
        if let bytes = sealed[asking] { return (bytes, now) }
        let delta = start.flatMap { RoomDelta(from: $0, to: current) }
        // A change only the whole view says is the whole view, made once for everyone.
        let sent = delta == nil ? Asked(from: -1, deflated: asked) : asking
        let bytes: [UInt8]
        if let made = sealed[sent] {
            bytes = made
        } else {
            let json = Array(delta.map(Wire.encode) ?? Wire.encode(current))
            let deflate = asked && (sent.from == -1 || sent.from == current.version - 1)
            bytes = Sealing.seal(deflate ? ViewDeflation.deflate(json) : json, withKey: key)
            sealed[sent] = bytes
        }
        sealed[asking] = bytes
        return (bytes, now)
    }
}

/// The room's view in zlib's format (RFC 1950: its first byte is 0x78, never a JSON text's
/// `{`), as pages that ask take it (docs/hosting.md, "Airtime"), and its bounds; what the
/// node does and what pages and benchmarks undo.
public enum ViewDeflation {
    /// zlib's level: about as small as 9 makes text, in a fraction of the time.
    public static let level = 6
    /// The most a page inflates (seal.js's VIEW_LIMIT): a forged frame must not take a
    /// phone's memory. A view larger than this is sent as JSON.
    public static let limit = 8 << 20

    /// `json` deflated, or as it is when that is no smaller (a change of one count) or larger
    /// than pages inflate. Every phone that takes it deflated gets these same bytes: what it
    /// says is what the room shows, the same for everyone.
    public static func deflate(_ json: [UInt8]) -> [UInt8] {
        guard json.count <= limit else { return json }
        return compressed(json, with: .zlib(configuration: .init(windowSize: 15, compressionLevel: Int32(level)))) ?? json
    }

    /// An opened view as pages read it: JSON (`{`) as it is, deflated bytes inflated (at most
    /// ``limit``); nil if they do not inflate.
    public static func inflate(_ plain: [UInt8]) -> [UInt8]? {
        guard plain.first != UInt8(ascii: "{") else { return plain }
        var buffer = ByteBuffer(bytes: plain)
        return (try? buffer.decompress(with: .zlib(), maxSize: limit)).map { Array($0.readableBytesView) }
    }
}

/// `bytes` compressed with `algorithm`, or nil when that is no smaller (or fails): the room's
/// view for pages that ask, and the pages themselves gzipped.
func compressed(_ bytes: [UInt8], with algorithm: CompressionAlgorithm) -> [UInt8]? {
    var buffer = ByteBuffer(bytes: bytes)
    guard let packed = try? buffer.compress(with: algorithm), packed.readableBytes < bytes.count else { return nil }
    return Array(packed.readableBytesView)
}
