import Foundation
import HTTPTypes
import Hummingbird
import Meeting

/// Headers on every response: pages may run only the node's own scripts, load nothing from
/// elsewhere, and send no referrer; errors are rendered as JSON (``APIError``, ``MeetingError``),
/// unknown API paths included.
struct SecurityHeaders: RouterMiddleware {
    typealias Context = NodeContext
    /// Whether an origin is another laptop of this session, whose pages may call this one.
    var sessionOrigin: @Sendable (String) async -> Bool = { _ in false }

    /// What a phone's page asks of another laptop of the session after it moved there without
    /// leaving its page (docs/replication.md, "Failure modes"). Only pages of this session's
    /// laptops may read the answers: a page from anywhere else (an informer's own server that a
    /// phone was sent to) could otherwise speak from that phone's address and read what the
    /// node answers about it.
    static let crossOrigin: Set<String> = ["/api/seal-key", "/api/room", "/api/sealed"]

    /// The answer to a browser's question before a sealed request from another laptop's page.
    static func preflight() -> Response {
        Response(
            status: .noContent,
            headers: [
                .accessControlAllowMethods: "POST", .accessControlAllowHeaders: "Content-Type", .accessControlMaxAge: "600",
            ])
    }

    /// 405, with the methods the address does take (RFC 9110 asks for `Allow`).
    static func methodNotAllowed(_ request: Request, _ context: NodeContext) throws -> Response {
        let allowed = allowed(request.uri.path) ?? "GET, HEAD, POST"
        var response = try APIError(
            .methodNotAllowed, "method-not-allowed", "This address does not take \(request.method); it takes \(allowed)."
        )
        .response(from: request, context: context)
        response.headers[.allow] = allowed
        return response
    }

    /// The methods an address of the node takes (docs/openapi.yaml), or nil for no such address.
    static func allowed(_ path: String) -> String? {
        if path.hasPrefix("/api/console/")
            || ["/api/join", "/api/reflections", "/api/resonance", "/api/cannot-seal"].contains(path)
        {
            return "POST"
        }
        if path == "/api/sealed" { return "POST, OPTIONS" }
        if path.hasPrefix("/assets/")
            || ["/", "/facilitate", "/screen", "/api/session", "/api/console", "/api/screen", "/api/live", "/api/room", "/api/seal-key"]
                .contains(path)
        {
            return "GET, HEAD"
        }
        return nil
    }

    func handle(_ request: Request, context: NodeContext, next: (Request, NodeContext) async throws -> Response) async throws -> Response {
        var response: Response
        do {
            response = try await next(request, context)
        } catch let error as APIError {
            response = try error.response(from: request, context: context)
        } catch let error as MeetingError {
            response = try error.response(from: request, context: context)
        } catch let error as HTTPError where error.status == .notFound && SecurityHeaders.allowed(request.uri.path) != nil {
            // The address exists, for other methods.
            response = try SecurityHeaders.methodNotAllowed(request, context)
        } catch let error as HTTPError where error.status == .notFound {
            response = try APIError.noSuchEndpoint.response(from: request, context: context)
        } catch let error as HTTPError where error.status == .methodNotAllowed {
            response = try SecurityHeaders.methodNotAllowed(request, context)
        } catch let error as any HTTPResponseError where error.status == .contentTooLarge {
            response = try APIError.tooLarge.response(from: request, context: context)
        }
        response.headers[.contentSecurityPolicy] =
            "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; font-src 'self'; connect-src 'self' http: ws: wss:; base-uri 'none'; form-action 'self'; frame-ancestors 'none'"
        response.headers[.xContentTypeOptions] = "nosniff"
        // Nothing of a meeting is kept in a phone's browser cache (docs/threat-model.md).
        response.headers[.cacheControl] = "no-store"
        response.headers[.referrerPolicy] = "no-referrer"
        if SecurityHeaders.crossOrigin.contains(request.uri.path) {
            response.headers[.vary] = "Origin"
            if let origin = request.headers[.origin], await sessionOrigin(origin) { response.headers[.accessControlAllowOrigin] = origin }
        }
        return response
    }
}

extension HTTPField.Name {
    static let contentSecurityPolicy = HTTPField.Name("Content-Security-Policy")!
    static let xContentTypeOptions = HTTPField.Name("X-Content-Type-Options")!
    static let referrerPolicy = HTTPField.Name("Referrer-Policy")!
}
