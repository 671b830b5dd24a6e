import HTTPTypes
import NIOCore
import NIOHTTPTypes

/// Closes connections that do not deliver a complete request head in time (slow-loris defence).
///
/// The first head must arrive within `headTimeout` of the connection opening (TLS handshake
/// included); each later head within `idleTimeout + headTimeout` of the previous response, since
/// an idle keep-alive connection is allowed `idleTimeout` before its next request starts.
/// Hummingbird's idle timeout alone does not suffice: it resets on every byte, and a slow-loris
/// client sends a byte at a time.
final class RequestHeadDeadlineHandler: ChannelDuplexHandler, RemovableChannelHandler {
    typealias InboundIn = HTTPRequestPart
    typealias InboundOut = HTTPRequestPart
    typealias OutboundIn = HTTPResponsePart
    typealias OutboundOut = HTTPResponsePart

    private let headTimeout: TimeAmount
    private let idleTimeout: TimeAmount
    private var deadline: Scheduled<Void>?

    init(headTimeout: TimeAmount, idleTimeout: TimeAmount) {
        self.headTimeout = headTimeout
        self.idleTimeout = idleTimeout
    }

    func handlerAdded(context: ChannelHandlerContext) {
        arm(context: context, after: headTimeout)
    }

    func handlerRemoved(context: ChannelHandlerContext) {
        deadline?.cancel()
        deadline = nil
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        if case .head = unwrapInboundIn(data) {
            deadline?.cancel()
            deadline = nil
        }
        context.fireChannelRead(data)
    }

    func write(context: ChannelHandlerContext, data: NIOAny, promise: EventLoopPromise<Void>?) {
        if case .end = unwrapOutboundIn(data) {
            arm(context: context, after: idleTimeout + headTimeout)
        }
        context.write(data, promise: promise)
    }

    private func arm(context: ChannelHandlerContext, after delay: TimeAmount) {
        deadline?.cancel()
        let channel = context.channel
        deadline = context.eventLoop.scheduleTask(in: delay) {
            channel.close(promise: nil)
        }
    }
}
