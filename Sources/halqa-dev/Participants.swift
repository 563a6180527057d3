import ArgumentParser
import AsyncHTTPClient
import Foundation
import NIOCore

/// Simulated participants for tests in the virtual hall: each joins a node with the join code
/// and writes one reflection to the open prompt, printing `ack TEXT` once the node said
/// "received" (or `refused TEXT STATUS`).
struct Participants: AsyncParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Join a node and write reflections, printing each acknowledgement.")

    @Option(help: "The node's participant address, e.g. http://198.18.0.1:8080") var url: String
    @Option var code: String
    @Option var prompt = 0
    @Option(help: "The reflections' texts are PREFIX1, PREFIX2, …") var prefix: String
    @Option var count = 3

    func run() async throws {
        let http = HTTPClient.shared
        let base = url.hasSuffix("/") ? String(url.dropLast()) : url
        func post(_ path: String, _ body: [String: Any], token: String? = nil) async throws -> (Int, [String: Any]) {
            var request = HTTPClientRequest(url: base + path)
            request.method = .POST
            request.headers.add(name: "Content-Type", value: "application/json")
            if let token { request.headers.add(name: "Authorization", value: "Bearer " + token) }
            request.body = .bytes(ByteBuffer(bytes: try JSONSerialization.data(withJSONObject: body)))
            let response = try await http.execute(request, timeout: .seconds(15))
            let bytes = try await response.body.collect(upTo: 1 << 20)
            return (Int(response.status.code), (try? JSONSerialization.jsonObject(with: Data(bytes.readableBytesView))) as? [String: Any] ?? [:])
        }
        for i in 1...count {
            let text = "\(prefix)\(i)"
            let (joined, body) = try await post("/api/join", ["code": code])
            guard joined == 201, let token = body["token"] as? String else { print("refused \(text) join \(joined)"); continue }
            let (status, _) = try await post("/api/reflections", ["prompt": prompt, "text": text], token: token)
            print(status == 201 ? "ack \(text)" : "refused \(text) \(status)")
        }
    }
}
