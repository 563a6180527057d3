import Foundation
import HTTPTypes
import Hummingbird
import Logging
import Meeting
import NIOCore

/// The organiser's archive as a web page (`halqa archive`, docs/archive.md): the sessions of
/// many groups listed, filtered, read, searched, charted, reported and collected, from this
/// node's data folder. Every `/api/archive` route is behind the archive's secret, which the
/// printed link carries after `#key=`.
public enum ArchiveRoutes {
    public static func router(store: TranscriptStore, secret: String, pages: Pages) -> Router<NodeContext> {
        let router = Router(context: NodeContext.self)
        router.middlewares.add(SecurityHeaders())
        router.get("/") { request, _ in try pages.response("archive.html", to: request) }
        router.get("/assets/{file}") { request, context in try pages.response(context.parameters.require("file"), to: request) }

        let api = router.group("/api/archive").add(middleware: SecretAuthenticator.archive(secret))
        api.get("choices") { _, _ in
            struct Choices: Encodable {
                var groups: [String]
                var programmes: [String]
                var languages: [String]
                var keepDays: Int?
            }
            let choices = try store.archiveChoices()
            return Response.json(
                Choices(
                    groups: choices.groups, programmes: choices.programmes, languages: choices.languages, keepDays: try store.keepDays()))
        }
        api.get("sessions") { request, _ in
            let query = request.uri.queryParameters
            let page = try store.archive(
                try filter(request), offset: try number(query["offset"], "offset", 0...10_000_000) ?? 0,
                limit: try number(query["limit"], "limit", 1...500) ?? 50)
            return Response.json(page)
        }
        api.get("sessions/{id}") { _, context in
            let id = try store.resolveSession(try context.parameters.require("id"))
            return Response.json(SessionPage(try store.state(of: id)))
        }
        api.get("search") { request, _ in
            let words = request.uri.queryParameters["q"].map(String.init) ?? ""
            return Response.json(try store.searchBySession(words))
        }
        api.get("group") { request, _ in
            guard let group = request.uri.queryParameters["name"].map(String.init), !group.isEmpty else {
                throw APIError(.badRequest, "no-group", "Say which group: /api/archive/group?name=GROUP.")
            }
            return Response.json(try store.archiveAll(ArchiveFilter(group: group)))
        }
        api.get("report/{name}") { request, context in
            let name = try context.parameters.require("name")
            guard let report = ArchiveReport.allCases.first(where: { $0.fileName == name }) else {
                throw APIError(
                    .notFound, "no-such-report",
                    "There is no report \(name); there are \(ArchiveReport.allCases.map(\.fileName).joined(separator: ", ")).")
            }
            let filter = try filter(request)
            try filter.check()
            return Response(
                status: .ok,
                headers: [.contentType: "text/csv; charset=utf-8", .contentDisposition: "attachment; filename=\"\(report.fileName)\""],
                body: ResponseBody { writer in
                    _ = try await store.write(report, filter) { piece in try await writer.write(ByteBuffer(string: piece)) }
                    try await writer.finish(nil)
                })
        }
        api.post("import") { request, _ in
            guard let bytes = try? await request.body.collect(upTo: ArchiveImport.largestFile) else {
                throw APIError(
                    .contentTooLarge, "too-large", "A transcript may be at most \(Limits.transcriptBytes >> 20) MiB; this file is larger.")
            }
            let name = request.uri.queryParameters["name"].map(String.init) ?? "file"
            let given = request.headers[.halqaPassphrase].flatMap { Data(base64Encoded: $0) }.map { String(decoding: $0, as: UTF8.self) }
            let outcome = await store.importBytes(Data(buffer: bytes), named: name) { () throws(MeetingError) -> String in
                guard let given, !given.isEmpty else {
                    throw MeetingError(.wrongPassphrase, "This export is encrypted: give its passphrase and import it again.")
                }
                return given
            }
            return Response.json(outcome)
        }
        api.post("retention") { request, _ in
            let body = try await request.decode(Body.Retention.self)
            let days = body.keepDays.value
            guard days > 0 else {
                try store.setKeepDays(nil)
                return Response.json(RetentionPage(keepDays: nil, before: nil, older: [], wiped: nil))
            }
            // A confirmation wipes what its preview listed: the sessions created before the
            // preview's cutoff, as many as it showed (else the list changed and is shown again).
            let cutoff = body.before?.value ?? (Int64(Date().timeIntervalSince1970 * 1000) - Int64(days) * 86_400_000)
            let older = try store.createdBefore(cutoff)
            guard body.confirm == "WIPE" else {
                return Response.json(RetentionPage(keepDays: days, before: cutoff, older: older, wiped: nil))
            }
            guard body.before != nil, body.count?.value == older.count else {
                throw APIError(
                    .conflict, "list-changed",
                    "The sessions to wipe are not the ones listed (\(older.count) now). Nothing was wiped: see what would be wiped again.")
            }
            try store.setKeepDays(days)
            let wiped = try await store.wipe(sessions: older.compactMap { EventID(hex: $0.id) })
            return Response.json(RetentionPage(keepDays: days, before: cutoff, older: older, wiped: wiped.sessions))
        }
        api.post("{action}") { _, _ -> Response in throw APIError.noSuchEndpoint }
        return router
    }

    /// The list's filter from a request's query: group, programme, week, from, to, language.
    static func filter(_ request: Request) throws -> ArchiveFilter {
        let query = request.uri.queryParameters
        func text(_ name: String) -> String? { query[Substring(name)].map(String.init).flatMap { $0.isEmpty ? nil : $0 } }
        return ArchiveFilter(
            group: text("group"), programme: text("programme"), week: try number(query["week"], "week", 1...Limits.weeksPerProgramme),
            from: text("from"), to: text("to"), language: text("language"))
    }

    static func number(_ text: Substring?, _ name: String, _ range: ClosedRange<Int>) throws -> Int? {
        guard let text, !text.isEmpty else { return nil }
        guard let n = Int(text), range.contains(n) else {
            throw APIError(.badRequest, "bad-\(name)", "\(name) must be a whole number from \(range.lowerBound) to \(range.upperBound).")
        }
        return n
    }

    /// A session as the room saw it, with each check-in's chart drawn by the node.
    struct SessionPage: Encodable {
        var transcript: Transcript
        var entry: ArchiveEntry
        /// Chart SVGs by prompt number, for check-ins.
        var charts: [String: String]

        init(_ state: SessionState) {
            var transcript = Transcript(state)
            transcript.events = []
            self.transcript = transcript
            entry = ArchiveEntry(state)
            charts = [:]
            for prompt in transcript.prompts {
                if let counts = prompt.checkIn?.counts.map(\.count) { charts["\(prompt.number)"] = CheckInChart.svg(counts) }
            }
        }
    }

    struct RetentionPage: Encodable {
        var keepDays: Int?
        /// Sessions created before this (milliseconds) are older; a confirmation sends it back.
        var before: Int64?
        /// The sessions older than that, oldest first.
        var older: [ArchiveEntry]
        /// How many were wiped, once confirmed.
        var wiped: Int?
    }
}

extension HTTPField.Name {
    static let contentDisposition = HTTPField.Name("Content-Disposition")!
    /// An encrypted export's passphrase, as base64 of its UTF-8 (`POST /api/archive/import`).
    static let halqaPassphrase = HTTPField.Name("X-Halqa-Passphrase")!
}

/// Runs `halqa archive`: serves the archive page until SIGINT or SIGTERM.
public enum ArchiveServer {
    /// A new secret for the archive's link: 130 random bits, new at every start.
    public static func newSecret() -> String { AccessCodes.newSecret() }

    /// The link that opens the archive: on this laptop, or on the address other machines reach.
    public static func link(bind: String, port: Int, secret: String) -> String {
        let host = bind == "0.0.0.0" || bind == "::" ? LANAddress.forParticipants(bind: bind) : bind
        return "http://\(host.contains(":") ? "[\(host)]" : host):\(port)/#key=\(secret)"
    }

    /// `ready` gets the port listened on. Loopback unless `bind` says otherwise; either way
    /// the page opens only with `secret`.
    public static func run(
        store: TranscriptStore, secret: String, bind: String, port: Int, logger: Logger, ready: @escaping @Sendable (Int) -> Void
    ) async throws {
        let router = ArchiveRoutes.router(store: store, secret: secret, pages: try Pages())
        let app = Application(
            router: router, configuration: ApplicationConfiguration(address: .hostname(bind, port: port), serverName: nil),
            onServerRunning: { channel in ready(channel.localAddress?.port ?? port) }, logger: logger)
        do {
            try await app.runService(gracefulShutdownSignals: [.sigterm, .sigint])
        } catch let error as IOError where error.errnoCode == EADDRINUSE {
            throw HostError(message: "Port \(port) is already in use. Choose another with --port, for example --port \(port + 1).")
        } catch let error as IOError where error.errnoCode == EADDRNOTAVAIL {
            throw HostError(
                message: "This machine has no address \(bind). Give one of: 127.0.0.1, \(LANAddress.all().joined(separator: ", ")).")
        }
    }
}
