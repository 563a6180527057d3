import Hummingbird
import NIOCore

/// Before any route: answers 429 to an address over its request rate, and reads a request's
/// body (at most 16 KiB) within the body deadline, so a client trickling a body holds nothing
/// for long.
struct ServingMiddleware<Context: RemoteAddressRequestContext>: RouterMiddleware {
    let rate: RequestRate
    let bodyDeadline: Duration

    init(limits: ServingLimits) {
        rate = RequestRate(limits: limits)
        bodyDeadline = limits.bodyDeadline
    }

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        guard rate.allow(context.remoteAddress?.ipAddress ?? "unknown") else { throw APIError.slowDown }
        guard request.method == .post || request.method == .put || request.method == .patch else { return try await next(request, context) }
        let length = request.headers[.contentLength].flatMap { Int($0) }
        if let length, length > Request.bodyLimit { throw APIError.tooLarge }
        var request = request
        let body = request.body
        let deadline = bodyDeadline
        let read = try await withTimeout(deadline) {
            do {
                // Room for the whole body at once, rather than growing as it arrives.
                var buffer = ByteBuffer()
                buffer.reserveCapacity(max(0, min(length ?? 0, Request.bodyLimit)))
                try await body.collect(upTo: Request.bodyLimit, into: &buffer)
                return buffer
            } catch let error as any HTTPResponseError where error.status == .contentTooLarge {
                throw APIError.tooLarge
            }
        }
        guard let buffer = read else { throw APIError.tooSlow }
        request.body = RequestBody(buffer: buffer)
        return try await next(request, context)
    }
}
