import Hummingbird
import HummingbirdWebSocket
import NIOCore

/// The request context of a Halqa node: it knows the client's address (used only to slow
/// down guessing, held in memory, never logged), can upgrade to a WebSocket, and carries the
/// participant's token once ``ParticipantAuthenticator`` has checked it.
public struct NodeContext: RequestContext, RemoteAddressRequestContext, WebSocketRequestContext {
    public var coreContext: CoreRequestContextStorage
    public let webSocket: WebSocketHandlerReference<NodeContext>
    public let remoteAddress: SocketAddress?
    /// The participant's token, on the participants' routes (checked by ``ParticipantAuthenticator``).
    var token: String?

    public init(source: ApplicationRequestContextSource) {
        coreContext = .init(source: source)
        webSocket = .init()
        remoteAddress = source.channel.remoteAddress
    }

    /// The client's address, for throttling only.
    var addressKey: String { remoteAddress?.ipAddress ?? "unknown" }

    /// The participant's token, on a route behind ``ParticipantAuthenticator``.
    func participant() throws -> String {
        guard let token else { throw APIError.joinAgain }
        return token
    }
}
