import ArgumentParser
import AsyncHTTPClient
import CompressNIO
import Foundation
import HummingbirdWSClient
import Logging
import NIOCore
import Node
import Synchronization

/// The meeting of ``BenchAirtime``: phones that do what participant.js does, and a facilitator.
struct Meeting {
    let http: HTTPClient
    let phone: String, facilitator: String, code: String, secret: String
    let options: BenchAirtime

    func run(air: Air) async throws {
        let n = options.phones
        let views = Views(count: n)
        let reflections = try Reflections(decks: options.words, length: options.length)
        // Every phone loads the page and its assets, and asks for the node's key to seal to.
        let page = try await get(phone + "/")
        let assets = page.split(separator: "\"").filter { $0.hasPrefix("/assets/") }.map(String.init)
        let keyJSON = try await get(phone + "/api/seal-key")
        let nodeKey = Base64URL.decode((try JSONSerialization.jsonObject(with: Data(keyJSON.utf8)) as! [String: Any])["key"] as! String)!
        try await concurrently(n) { _ in
            for path in ["/"] + assets + ["/api/seal-key"] { _ = try await get(phone + path) }
        }
        let pageBytes = try await air.settled()
        progress("\(n) phones loaded the page: \(pageBytes / n) bytes each")

        // Each joins sealed and follows the room on the live socket.
        let joined = try await concurrently(n) { _ in
            let (_, body) = try await sealed(["op": "join", "body": ["code": code]], to: nodeKey)
            return (body["token"] as! String, Base64URL.decode(body["view"] as! String)!)
        }
        let viewKey = joined[0].1
        progress("\(n) phones joined")
        let sockets = Task {
            do { try await concurrently(n) { i in try await follow(i, views: views, viewKey: viewKey) } } catch is CancellationError {
            } catch {
                progress("a phone's live socket failed: \(error)")
            }
        }
        defer { sockets.cancel() }
        try await views.until("every phone holds the room's view") { $0.version != nil }
        progress("\(n) phones follow the room")

        var floor = 0
        var fanOuts: [Double] = []
        var packs: [Double] = []
        for p in 0..<options.prompts {
            _ = try await console("open", #"{"prompt":\#(p)}"#)
            try await views.until("every phone sees prompt \(p + 1) open") { $0.prompt == p && $0.status == "open" }
            try await concurrently(n) { i in
                let text = reflections.text(phone: i, prompt: p)
                let (status, _) = try await sealed(
                    ["op": "reflect", "token": joined[i].0, "body": ["prompt": p, "text": text]], to: nodeKey)
                guard status == 201 else { throw ValidationError("a reflection was refused: \(status)") }
            }
            let reveal = ContinuousClock.now
            _ = try await console("reveal", #"{"prompt":\#(p)}"#)
            try await views.until("every phone holds every reflection") { $0.revealed.count == n }
            fanOuts.append((ContinuousClock.now - reveal).milliseconds)
            let ids = views.first.revealed.map(\.id)
            try await concurrently(n) { i in
                for id in ids.shuffled().prefix(options.taps) {
                    let (status, _) = try await sealed(["op": "resonate", "token": joined[i].0, "body": ["reflection": id]], to: nodeKey)
                    guard status == 204 else { throw ValidationError("a tap was refused: \(status)") }
                }
            }
            let all = n * options.taps
            progress("prompt \(p + 1): all \(n) hold every reflection; tapping")
            try await views.until("every phone holds every count") { $0.revealed.reduce(0) { $0 + $1.resonance } == all }
            let whole = try await roomView(viewKey)
            guard views.all.allSatisfy({ $0.same(as: whole) }) else {
                throw ValidationError("a phone's view is not the room's:\n\(views.first.object)\n\(whole)")
            }
            floor += n * views.first.revealed.reduce(0) { $0 + $1.text.utf8.count + $1.id.utf8.count + String($1.resonance).utf8.count }
            let texts = Array(views.first.revealed.map(\.text).joined(separator: "\n").utf8)
            packs.append(Double(ViewDeflation.deflate(texts).count) / Double(texts.count))
            _ = try await console("close-prompt", #"{"prompt":\#(p)}"#)
            try await views.until("every phone sees prompt \(p + 1) closed") { $0.status == "closed" }
        }
        let total = try await air.settled()
        let meeting = total - pageBytes
        progress("the meeting is over")
        let dropped = air.stop()
        func mb(_ bytes: Int) -> String { String(format: "%.2f MB", Double(bytes) / 1e6) }
        print(
            "phones: \(n); prompts: \(options.prompts); a \(options.length)-character reflection each, \(options.taps) taps each, per prompt"
        )
        print("floor (each revealed text, its id and its count, once per phone): \(mb(floor))")
        print(
            "a prompt's texts, deflated alone:                               \(packs.map { String(format: "%.0f %%", $0 * 100) }.joined(separator: " / ")) of their bytes"
        )
        print(
            "node → phones, the meeting (join to the last close):           \(mb(meeting)) = \(String(format: "%.2f", Double(meeting) / Double(floor)))× the floor"
        )
        print("node → phones, loading the page (once per phone):              \(mb(pageBytes)) (\(pageBytes / n / 1000) kB each)")
        print(
            "node → phones, all:                                             \(mb(total)) = \(String(format: "%.2f", Double(total) / Double(floor)))× the floor"
        )
        // Deflating beats the floor as the issue states it (texts as they are); next to the
        // floor deflated as the texts pack, the meeting and the page are what is left over.
        let packedFloor = Double(floor) * packs.reduce(0, +) / Double(max(packs.count, 1))
        print(
            "the floor deflated (each prompt's texts as deflate packs them):  \(mb(Int(packedFloor))); all sent is \(String(format: "%.2f", Double(total) / packedFloor))× that"
        )
        print("phones → node, all (sealed requests are 8,264 bytes each):      \(mb(air.fromPhones.load(ordering: .relaxed)))")
        print(
            "reveal until the last phone holds every reflection:             \(fanOuts.map { String(format: "%.0f", $0) }.joined(separator: " / ")) ms"
        )
        print("every phone's view is the room's after each prompt:             yes (\(n) of \(n))")
        print(
            "whole views / changes / resends a phone was sent:                \(views.first.wholes) / \(views.first.changes) / \(views.first.gaps)"
        )
        if !dropped.isEmpty { print("tcpdump: \(dropped)") }
    }

    // MARK: What a phone does

    /// Follows the room as participant.js does: a sealed hello with the version it holds; a
    /// whole view or a change (binary, sealed with the view key), or from an older node the
    /// whole view as text (`sealed-state`, base64).
    func follow(_ i: Int, views: Views, viewKey: [UInt8]) async throws {
        var logger = Logger(label: "bench")
        logger.logLevel = .error
        let ws = phone.replacingOccurrences(of: "http://", with: "ws://") + "/api/live"
        _ = try await WebSocketClient.connect(url: ws, configuration: .init(maxFrameSize: 1 << 24), logger: logger) {
            inbound, outbound, _ in
            try await outbound.write(.text(#"{"type":"hello","sealed":true,"deflate":true}"#))
            for try await message in inbound.messages(maxSize: 1 << 24) {
                var sealed: [UInt8]?
                switch message {
                case .binary(let buffer): sealed = Array(buffer.readableBytesView)
                case .text(let text):
                    let object = try? JSONSerialization.jsonObject(with: Data(text.utf8)) as? [String: Any]
                    if object?["type"] as? String == "sealed-state" {
                        sealed = Array(Data(base64Encoded: object?["data"] as? String ?? "") ?? Data())
                    }
                }
                guard let sealed, let plain = Sealing.open(sealed, withKey: viewKey).flatMap(ViewDeflation.inflate),
                    let object = try JSONSerialization.jsonObject(with: Data(plain)) as? [String: Any]
                else { continue }
                if !views.take(object, phone: i) {
                    views.take(try await roomView(viewKey), phone: i)  // what the page does: ask for the whole view
                }
            }
        }
    }

    /// The room's whole view, as a page polls it.
    func roomView(_ viewKey: [UInt8]) async throws -> [String: Any] {
        let body = try JSONSerialization.jsonObject(with: Data(try await get(phone + "/api/room?deflate=1").utf8)) as! [String: Any]
        let plain = ViewDeflation.inflate(Sealing.open(Array(Data(base64Encoded: body["sealed"] as! String)!), withKey: viewKey)!)!
        return try JSONSerialization.jsonObject(with: Data(plain)) as! [String: Any]
    }

    /// A request sealed as a page seals it; the status and body inside the answer.
    func sealed(_ message: [String: Any], to nodeKey: [UInt8]) async throws -> (Int, [String: Any]) {
        guard let answer = try await postSealed(http, phone, message, to: nodeKey) else {
            throw ValidationError("a sealed answer did not open")
        }
        return answer
    }

    /// What a browser gets at `url` (it takes gzip, as Chrome does).
    func get(_ url: String) async throws -> String {
        var request = HTTPClientRequest(url: url)
        request.headers.add(name: "Accept-Encoding", value: "gzip, deflate")
        let response = try await http.execute(request, timeout: .seconds(60))
        var body = try await response.body.collect(upTo: 1 << 24)
        if response.headers["Content-Encoding"].first == "gzip" { body = try body.decompress(with: .gzip()) }
        return String(buffer: body)
    }

    func console(_ action: String, _ body: String) async throws -> Int {
        var request = HTTPClientRequest(url: facilitator + "/api/console/" + action)
        request.method = .POST
        request.headers.add(name: "Content-Type", value: "application/json")
        request.headers.add(name: "Authorization", value: "Bearer " + secret)
        request.body = .bytes(ByteBuffer(string: body))
        let response = try await http.execute(request, timeout: .seconds(60))
        _ = try await response.body.collect(upTo: 1 << 24)
        guard response.status == .ok else { throw ValidationError("the console's \(action) was refused: \(response.status)") }
        return Int(response.status.code)
    }

    /// `work` for each of `n` phones at once; the results in the phones' order.
    @discardableResult
    func concurrently<T: Sendable>(_ n: Int, _ work: @escaping @Sendable (Int) async throws -> T) async throws -> [T] {
        try await withThrowingTaskGroup(of: (Int, T).self) { group in
            for i in 0..<n { group.addTask { (i, try await work(i)) } }
            var results = [T?](repeating: nil, count: n)
            for try await (i, value) in group { results[i] = value }
            return results.map { $0! }
        }
    }
}

/// What every simulated phone holds of the room, as participant.js holds it.
final class Views: @unchecked Sendable {
    struct Shown {
        var id: String, text: String, resonance: Int
    }
    struct Phone {
        var object: [String: Any] = [:]
        var wholes = 0, changes = 0, gaps = 0
        var version: Int? { object["version"] as? Int }
        var prompt: Int? { (object["prompt"] as? [String: Any])?["index"] as? Int }
        var status: String? { (object["prompt"] as? [String: Any])?["status"] as? String }
        var revealed: [Shown] {
            (object["revealed"] as? [[String: Any]] ?? []).map {
                Shown(id: $0["id"] as! String, text: $0["text"] as! String, resonance: $0["resonance"] as! Int)
            }
        }
        func same(as whole: [String: Any]) -> Bool { NSDictionary(dictionary: object).isEqual(to: whole) }
    }
    private let lock = NSLock()
    private var phones: [Phone]

    init(count: Int) { phones = Array(repeating: Phone(), count: count) }

    var all: [Phone] { lock.withLock { phones } }
    var first: Phone { lock.withLock { phones[0] } }

    /// A whole view, or a change to the version the phone holds; false if it is a change to
    /// another version (the phone then asks for the whole view).
    @discardableResult
    func take(_ object: [String: Any], phone i: Int) -> Bool {
        lock.withLock {
            guard let from = object["from"] as? Int else {
                phones[i].object = object
                phones[i].wholes += 1
                return true
            }
            var view = phones[i].object
            guard view["epoch"] as? String == object["epoch"] as? String, view["version"] as? Int == from else {
                phones[i].gaps += 1
                return false
            }
            view["version"] = object["version"]
            for key in ["session", "prompt", "nodes", "revealed"] { if let value = object[key] { view[key] = value } }
            var list = view["revealed"] as? [[String: Any]] ?? []
            if let drop = object["drop"] as? [String] { list.removeAll { drop.contains($0["id"] as! String) } }
            if let add = object["add"] as? [[String: Any]] { list += add }
            // (JSONSerialization's numbers do not cast to [Int] on Linux.)
            if let counts = (object["counts"] as? [Any])?.compactMap({ ($0 as? NSNumber)?.intValue }) {
                for i in counts.indices where i < list.count { list[i]["resonance"] = counts[i] }
            }
            view["revealed"] = list
            phones[i].object = view
            phones[i].changes += 1
            return true
        }
    }

    /// Waits until every phone's view satisfies `holds` (at most two minutes).
    func until(_ what: String, _ holds: (Phone) -> Bool) async throws {
        let deadline = ContinuousClock.now + .seconds(120)
        while !all.allSatisfy(holds) {
            guard ContinuousClock.now < deadline else { throw ValidationError("not in two minutes: \(what)") }
            try await Task.sleep(for: .milliseconds(20))
        }
    }
}
