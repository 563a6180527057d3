import Foundation
import HalqaTestSupport
import Hummingbird
import HummingbirdTesting
import Meeting
import Testing

@testable import Node

/// Threat: a rogue machine (or a participant's phone) on the hall's LAN that tries to stop the
/// node serving everyone else. Each client here connects from its own loopback address
/// (127.0.0.x), as phones in a hall have their own; the limits are docs/limits.md.
/// The node under test runs on threads of its own (``DedicatedExecutor``), so CPU-heavy tests
/// running alongside cannot delay its answers past the deadlines measured here.
@Suite("Holding up under abuse")
struct AbuseTests {
    /// Joins from `address` and writes `text` to prompt 0 (opened by the caller); the statuses.
    static func participant(from address: String, port: Int, code: String, text: String, prompt: Int = 0) throws -> (join: Int, write: Int)
    {
        let connection = try RawConnection(from: address, to: port)
        guard let joined = connection.request("POST", "/api/join", json: #"{"code":"\#(code)"}"#) else { return (0, 0) }
        guard joined.status == 201,
            let token = (try? JSONSerialization.jsonObject(with: Data(joined.body.utf8)) as? [String: Any])?["token"] as? String
        else {
            return (joined.status, 0)
        }
        let written = connection.request("POST", "/api/reflections", json: #"{"prompt":\#(prompt),"text":"\#(text)"}"#, token: token)
        return (joined.status, written?.status ?? 0)
    }

    @Test(
        "A flood of connections from one address: those over its limit are closed at once, its places come back when it lets go, and a participant elsewhere joins and writes"
    )
    func connectionFlood() async throws {
        let fixture = try await HostedFixture()
        try await fixture.room.session.open(prompt: 0)
        var limits = ServingLimits()
        limits.connectionsPerAddress = 8
        try await withTaskExecutorPreference(DedicatedExecutor.shared) {
            try await fixture.app(limits: limits).test(.live) { client in
                let port = try #require(client.port)
                let code = fixture.joinCode
                let (kept, closed, served) = try await onThread {
                    let flood = try (0..<40).map { _ in try RawConnection(from: "127.0.0.2", to: port, receiveTimeout: 0.3) }
                    let closed = flood.filter { $0.receiveAll().closed }.count
                    let served = try AbuseTests.participant(from: "127.0.0.3", port: port, code: code, text: "still heard")
                    return (flood.count - closed, closed, served)
                }
                #expect(kept == 8 && closed == 32, "kept \(kept), closed \(closed)")
                #expect(served.join == 201 && served.write == 201)
                // The flood's connections are gone now: the address may connect again.
                var again = (0, 0)
                for _ in 0..<50 where again.0 != 201 {
                    try await Task.sleep(for: .milliseconds(20))
                    again = try await onThread {
                        try AbuseTests.participant(from: "127.0.0.2", port: port, code: code, text: "after the flood")
                    }
                }
                #expect(again == (201, 201))
            }
        }
    }

    /// Threat: a participant who opens several tabs (several tokens) to fill most of a batch
    /// of three, and then knows which reflection is the one other person's.
    @Test(
        "One phone, one voice: a second tab on the same phone cannot write to the same prompt; another phone can; the next prompt forgets")
    func onePhoneOneVoice() async throws {
        let fixture = try await HostedFixture()
        try await fixture.room.session.open(prompt: 0)
        try await withTaskExecutorPreference(DedicatedExecutor.shared) {
            try await fixture.live { client in
                let port = try #require(client.port)
                let code = fixture.joinCode
                let (tabs, other) = try await onThread {
                    let tabs = (0..<3).map { i in try! AbuseTests.participant(from: "127.0.0.7", port: port, code: code, text: "tab \(i)") }
                    return (tabs, try AbuseTests.participant(from: "127.0.0.8", port: port, code: code, text: "another phone"))
                }
                #expect(tabs.map(\.join) == [201, 201, 201])
                #expect(tabs.map(\.write) == [201, 409, 409], "tabs of one phone wrote \(tabs.map(\.write))")
                #expect(other == (201, 201))
                #expect(await fixture.room.session.state.pendingCount(prompt: 0) == 2)
                // A page is told only what it did itself: what another page behind the same address
                // did never moves on it (one phone's writing is nothing another phone sees).
                let seen = try await onThread { () -> String in
                    let connection = try RawConnection(from: "127.0.0.7", to: port)
                    let joined = connection.request("POST", "/api/join", json: #"{"code":"\#(code)"}"#)!
                    let token = (try JSONSerialization.jsonObject(with: Data(joined.body.utf8)) as! [String: Any])["token"] as! String
                    return connection.request("GET", "/api/session", token: token)?.body ?? ""
                }
                #expect(seen.contains(#""wrote":false"#), "\(seen)")
                try await fixture.room.session.open(prompt: 1)
                await fixture.room.changed()
                let next = try await onThread {
                    try AbuseTests.participant(from: "127.0.0.7", port: port, code: code, text: "next prompt", prompt: 1)
                }
                #expect(next == (201, 201), "\(next)")
            }
        }
    }

    @Test(
        "A client that never finishes its request head is closed at the deadline; one that trickles a body gets 408; others are served meanwhile"
    )
    func slowClients() async throws {
        let fixture = try await HostedFixture()
        try await fixture.room.session.open(prompt: 0)
        var limits = ServingLimits()
        limits.firstRequestDeadline = .seconds(1)
        limits.bodyDeadline = .seconds(1)
        limits.idleTimeout = .seconds(2)
        try await withTaskExecutorPreference(DedicatedExecutor.shared) {
            try await fixture.app(limits: limits).test(.live) { client in
                let port = try #require(client.port)
                let code = fixture.joinCode
                async let silent: (bytes: [UInt8], closed: Bool) = onThread {
                    let connection = try RawConnection(from: "127.0.0.2", to: port, receiveTimeout: 6)
                    connection.send("GET / HTTP/1.1\r\nHost: node\r\n")
                    return connection.receiveAll()
                }
                async let trickle: Bool = onThread {
                    let connection = try RawConnection(from: "127.0.0.4", to: port, receiveTimeout: 0.2)
                    for byte in Array("GET / HTTP/1.1\r\nHost: node\r\nX-Slow: aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\r\n".utf8) {
                        connection.send([byte])
                        if connection.receiveAll().closed { return true }
                    }
                    return false
                }
                async let slowBody: (status: Int, body: String)? = onThread {
                    let connection = try RawConnection(from: "127.0.0.5", to: port, receiveTimeout: 60)
                    connection.send(
                        "POST /api/join HTTP/1.1\r\nHost: node\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n{\"code\":")
                    return connection.receiveResponse()
                }
                let served = try await onThread {
                    try AbuseTests.participant(from: "127.0.0.3", port: port, code: code, text: "served meanwhile")
                }
                #expect(served == (201, 201))
                let silentResult = try await silent
                #expect(silentResult.closed && silentResult.bytes.isEmpty, "a silent half-request was not closed")
                #expect(try await trickle, "a head sent a byte at a time was not closed")
                let answer = try await slowBody
                #expect(answer?.status == 408 && answer?.body.contains("too-slow") == true, "\(String(describing: answer))")
            }
        }
    }

    @Test("An oversized WebSocket frame closes that socket; so does anything sent after the hello; another page's socket keeps its state")
    func webSocketAbuse() async throws {
        let fixture = try await HostedFixture()
        try await withTaskExecutorPreference(DedicatedExecutor.shared) {
            try await fixture.live { client in
                let port = try #require(client.port)
                let token = try await API(client: client).join(fixture.joinCode)
                let upgrade =
                    "GET /api/live HTTP/1.1\r\nHost: node\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n"
                /// A masked client frame.
                @Sendable func frame(_ payload: [UInt8], declared: Int? = nil) -> [UInt8] {
                    let length = declared ?? payload.count
                    var out: [UInt8] = [0x81]
                    if length < 126 {
                        out.append(0x80 | UInt8(length))
                    } else {
                        out.append(0x80 | 127)
                        out += withUnsafeBytes(of: UInt64(length).bigEndian, Array.init)
                    }
                    out += [0, 0, 0, 0]  // a zero mask leaves the payload as it is
                    return out + payload
                }
                let hello = Array(#"{"type":"hello","token":"\#(token)"}"#.utf8)
                let (oversized, chatty, good) = try await onThread {
                    let big = try RawConnection(from: "127.0.0.2", to: port, receiveTimeout: 1)
                    big.send(upgrade)
                    let bigHead = big.receive(until: "\r\n\r\n").text
                    big.send(frame(Array(repeating: 0x61, count: 65_536), declared: 1 << 20))
                    let bigEnd = big.receive(until: "never sent")

                    /// A page's live socket from `address`: upgraded, hello sent, its first state read.
                    func page(from address: String) throws -> (RawConnection, (text: String, closed: Bool)) {
                        let connection = try RawConnection(from: address, to: port, receiveTimeout: 1)
                        connection.send(upgrade)
                        _ = connection.receive(until: "\r\n\r\n")
                        connection.send(frame(hello))
                        return (connection, connection.receive(until: #""type":"state""#))
                    }
                    let (talker, first) = try page(from: "127.0.0.3")
                    talker.send(frame(Array("and more".utf8)))
                    let after = talker.receive(until: "never sent")
                    let (_, state) = try page(from: "127.0.0.4")
                    return ((bigHead, bigEnd.closed), (first.closed, after.closed), (state.closed, state.text))
                }
                #expect(oversized.0.hasPrefix("HTTP/1.1 101") && oversized.1, "an oversized frame did not close the socket")
                #expect(!chatty.0 && chatty.1, "a message after the hello did not close the socket")
                #expect(!good.0 && good.1.contains(#""type":"state""#), "a well-behaved page lost its state")
            }
        }
    }

    @Test("A client sending as fast as it can gets 429 after its burst; another address is served as usual")
    func fastClient() async throws {
        let fixture = try await HostedFixture()
        try await withTaskExecutorPreference(DedicatedExecutor.shared) {
            try await fixture.live { client in
                let port = try #require(client.port)
                let (statuses, other) = try await onThread {
                    let fast = try RawConnection(from: "127.0.0.2", to: port)
                    var statuses: [Int: Int] = [:]
                    for _ in 0..<400 {
                        guard let answer = fast.request("GET", "/api/session", token: "not-a-token") else { break }
                        statuses[answer.status, default: 0] += 1
                    }
                    let other = try RawConnection(from: "127.0.0.3", to: port).request("GET", "/api/session", token: "not-a-token")
                    return (statuses, other?.status)
                }
                let limited = statuses[429, default: 0]
                print("fast client: \(statuses[401, default: 0]) answered, \(limited) slowed down (429) of 400")
                #expect(limited >= 100 && statuses[401, default: 0] >= 100, "\(statuses)")
                #expect(other == 401, "another address was slowed down too")
            }
        }
    }

    @Test("One device cannot fill the node's participant places: after 10 joins it waits (429); another device joins")
    func joinFlood() async throws {
        let fixture = try await HostedFixture()
        try await withTaskExecutorPreference(DedicatedExecutor.shared) {
            try await fixture.live { client in
                let port = try #require(client.port)
                let code = fixture.joinCode
                let (statuses, other) = try await onThread {
                    let device = try RawConnection(from: "127.0.0.2", to: port)
                    let statuses = (0..<15).map { _ in device.request("POST", "/api/join", json: #"{"code":"\#(code)"}"#) }
                    let other = try RawConnection(from: "127.0.0.3", to: port).request("POST", "/api/join", json: #"{"code":"\#(code)"}"#)
                    return (statuses.map { $0?.status ?? 0 }, other?.status)
                }
                #expect(statuses.prefix(10).allSatisfy { $0 == 201 } && statuses.dropFirst(10).allSatisfy { $0 == 429 }, "\(statuses)")
                #expect(other == 201)
            }
        }
    }

    @Test(
        "Guessing join codes, measured: one address gets 5 checked guesses and then one per 12 s; many addresses together at most 60 a minute"
    )
    func guessingRate() async throws {
        let fixture = try await HostedFixture()
        try await withTaskExecutorPreference(DedicatedExecutor.shared) {
            try await fixture.live { client in
                let port = try #require(client.port)
                let seconds = 10.0
                let (single, crowd) = try await onThread {
                    func guess(from address: String, until end: Date) throws -> Int {
                        var checked = 0
                        let connection = try RawConnection(from: address, to: port)
                        while Date() < end {
                            guard let answer = connection.request("POST", "/api/join", json: #"{"code":"ZZZZZZZZ"}"#) else { break }
                            if answer.status == 403 { checked += 1 }
                            if answer.status == 429 && answer.body.contains("slow-down") { Thread.sleep(forTimeInterval: 0.05) }
                        }
                        return checked
                    }
                    let single = try guess(from: "127.0.0.2", until: Date().addingTimeInterval(seconds))
                    // Fifty addresses in turn, each guessing as fast as it may.
                    let end = Date().addingTimeInterval(seconds)
                    let connections = try (10..<60).map { try RawConnection(from: "127.0.1.\($0)", to: port) }
                    var crowd = 0
                    while Date() < end {
                        for connection in connections {
                            if connection.request("POST", "/api/join", json: #"{"code":"ZZZZZZZZ"}"#)?.status == 403 { crowd += 1 }
                        }
                    }
                    return (single, crowd)
                }
                print(
                    String(
                        format:
                            "guessing: one address %.0f checked guesses/min, fifty addresses %.0f/min (over %.0f s each, bursts included)",
                        Double(single) / seconds * 60, Double(crowd) / seconds * 60, seconds))
                // The burst of 5 and one more every 12 s; a slow machine can only check fewer.
                #expect(single >= 5 && single <= 6, "one address had \(single) guesses checked in \(seconds) s")
                // The node-wide burst of 60 and one more a second.
                #expect(crowd >= 60 && crowd <= 60 + Int(seconds) + 1, "fifty addresses had \(crowd) guesses checked in \(seconds) s")
            }
        }
    }
}
