import Foundation
import Hummingbird
import Meeting

/// The web pages and their assets, read once from the module's `Pages` folder and served
/// from memory. Nothing is ever loaded from anywhere but the node.
public struct Pages: Sendable {
    struct File: Sendable {
        var bytes: [UInt8]
        var type: String
    }
    private let files: [String: File]

    public init() throws {
        guard let folder = Bundle.module.url(forResource: "Pages", withExtension: nil) else {
            throw APIError(.internalServerError, "missing-pages", "Halqa's web pages are missing from its installation. Build it again.")
        }
        var files: [String: File] = [:]
        for name in try FileManager.default.contentsOfDirectory(atPath: folder.path) {
            let type: String =
                switch (name as NSString).pathExtension {
                case "html": "text/html; charset=utf-8"
                case "js": "text/javascript; charset=utf-8"
                case "css": "text/css; charset=utf-8"
                case "svg": "image/svg+xml"
                default: "application/octet-stream"
                }
            files[name] = File(bytes: Array(try Data(contentsOf: folder.appendingPathComponent(name))), type: type)
        }
        // The sealing library phones run (docs/threat-model.md, "Sealed requests"): Debian's
        // audited tweetnacl, served as it is installed, never copied into this repository.
        let nacl = ProcessInfo.processInfo.environment["HALQA_TWEETNACL"] ?? Pages.tweetnacl
        guard let library = FileManager.default.contents(atPath: nacl) else {
            throw HostError(
                message:
                    "Halqa's pages need tweetnacl to seal what phones send, and \(nacl) is missing. Install it with scripts/setup (Debian's node-tweetnacl)."
            )
        }
        files["nacl-fast.min.js"] = File(bytes: Array(library), type: "text/javascript; charset=utf-8")
        self.files = files
    }

    /// Where Debian's node-tweetnacl puts the library.
    static let tweetnacl = "/usr/share/nodejs/tweetnacl/nacl-fast.min.js"

    /// These pages with the participant's page, the projector's and the console starting in `language`:
    /// its `lang` and direction from the first byte (no flash of English on a Pashto phone),
    /// and `data-room` for the scripts.
    func speaking(_ language: Language) -> Pages {
        var copy = files
        for name in ["participant.html", "screen.html", "console.html"] {
            guard let file = files[name] else { continue }
            let html = String(decoding: file.bytes, as: UTF8.self).replacingOccurrences(
                of: #"<html lang="en" dir="ltr">"#,
                with:
                    #"<html lang="\#(language.rawValue)" dir="\#(language.isRightToLeft ? "rtl" : "ltr")" data-room="\#(language.rawValue)">"#
            )
            copy[name] = File(bytes: Array(html.utf8), type: file.type)
        }
        return Pages(files: copy)
    }

    private init(files: [String: File]) { self.files = files }

    func response(_ name: String) throws -> Response {
        guard let file = files[name] else { throw APIError.noSuchEndpoint }
        return Response(
            status: .ok, headers: [.contentType: file.type, .cacheControl: "no-cache"],
            body: ResponseBody(byteBuffer: ByteBuffer(bytes: file.bytes)))
    }
}
