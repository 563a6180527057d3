import CompressNIO
import Foundation
import Hummingbird
import Meeting
import NIOCore

/// The web pages and their assets, read once from the module's `Pages` folder and served
/// from memory. Nothing is ever loaded from anywhere but the node.
public struct Pages: Sendable {
    struct File: Sendable {
        var bytes: [UInt8]
        var type: String
        /// The same bytes gzipped once, for browsers that take it (every phone's does): the
        /// page and its scripts cross the hall's Wi-Fi once per phone (docs/hosting.md, "Airtime").
        var gzipped: [UInt8]

        init(bytes: [UInt8], type: String) {
            self.bytes = bytes
            self.type = type
            gzipped = compressed(bytes, with: .gzip(configuration: .init(windowSize: 15, compressionLevel: 9))) ?? []
        }
    }
    private let files: [String: File]

    public init() throws {
        // Installed, the pages are in /usr/share/halqa/pages (``Installation``); built from
        // source, in the module's resources (the accessor stops the program if they are
        // missing, so it is asked only then).
        guard
            let folder = Installation.pagesFolder.map({ URL(fileURLWithPath: $0) })
                ?? Bundle.module.url(forResource: "Pages", withExtension: nil)
        else {
            throw APIError(
                .internalServerError, "missing-pages",
                "Halqa's web pages are missing from its installation (/usr/share/halqa/pages). Install the package again, or build Halqa again from its source."
            )
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
        // What phones run from Debian, served as installed, never copied into this repository:
        // its audited tweetnacl, which seals what they send (docs/threat-model.md, "Sealed
        // requests"), and pako's inflate, which unpacks the room's deflated view (docs/hosting.md,
        // "Airtime").
        for library in Pages.libraries {
            let path = ProcessInfo.processInfo.environment[library.variable] ?? library.path
            guard let bytes = FileManager.default.contents(atPath: path) else {
                throw HostError(
                    message:
                        "Halqa's pages need \(library.what), and \(path) is missing. Install Debian's \(library.package) (sudo apt install \(library.package); scripts/setup does it for a build from source)."
                )
            }
            files[library.served] = File(bytes: Array(bytes), type: "text/javascript; charset=utf-8")
        }
        self.files = files
    }

    /// A script phones load from a Debian package: where it is installed (or the environment
    /// variable that says where), what it is for, and the name it is served as.
    struct Library: Sendable {
        var package: String, path: String, variable: String, what: String, served: String
    }
    static let libraries = [
        Library(
            package: "node-tweetnacl", path: "/usr/share/nodejs/tweetnacl/nacl-fast.min.js", variable: "HALQA_TWEETNACL",
            what: "tweetnacl to seal what phones send", served: "nacl-fast.min.js"),
        Library(
            package: "node-pako", path: "/usr/share/nodejs/pako/dist/pako_inflate.min.js", variable: "HALQA_PAKO",
            what: "pako to unpack the room's view on phones", served: "pako_inflate.min.js"),
    ]

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

    /// `name` as the request takes it: gzipped if its `Accept-Encoding` says gzip.
    func response(_ name: String, to request: Request) throws -> Response {
        guard let file = files[name] else { throw APIError.noSuchEndpoint }
        var headers: HTTPFields = [.contentType: file.type, .cacheControl: "no-cache", .vary: "Accept-Encoding"]
        let gzip = !file.gzipped.isEmpty && Self.acceptsGzip(request.headers[values: .acceptEncoding])
        if gzip { headers[.contentEncoding] = "gzip" }
        return Response(status: .ok, headers: headers, body: ResponseBody(byteBuffer: ByteBuffer(bytes: gzip ? file.gzipped : file.bytes)))
    }

    /// Whether `Accept-Encoding` values take gzip (`gzip`, or `gzip;q=` above 0).
    static func acceptsGzip(_ values: [String]) -> Bool {
        values.flatMap { $0.split(separator: ",") }.contains { item in
            let parts = item.split(separator: ";").map { $0.trimmingCharacters(in: .whitespaces).lowercased() }
            guard parts.first == "gzip" else { return false }
            return !parts.dropFirst().contains { $0.hasPrefix("q=") && (Double($0.dropFirst(2)) ?? 1) == 0 }
        }
    }
}
