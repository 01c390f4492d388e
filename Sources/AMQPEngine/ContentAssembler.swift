import AMQPWire

/// A message whose method arrived (basic.deliver, get-ok or return) and whose content header and
/// body frames are being collected, in the order AMQP sends them: one header, then body frames
/// until the header's body size is reached. A body that comes in one frame is kept as that
/// frame's bytes (no copy); one split over frames is copied once into storage of its full size.
struct ContentAssembler {
    /// What a content frame did to the message under assembly.
    enum Step {
        /// More frames are needed.
        case incomplete
        /// The message is whole.
        case complete
        /// The frame breaks the protocol: the connection must be closed with this error and reply code.
        case violation(ErrorKind, ReplyCode, String)
    }

    var message: InboundMessage
    /// The basic.get request this message answers, if any.
    var request: RequestID?
    /// That request's caller gave up waiting (`message.noAck` says whether the broker still holds
    /// the message for us: without no-ack it does, so it can be handed back).
    var abandoned = false
    /// The header's body size, checked to fit `Int` and max_message_size.
    var bodySize = 0
    var headerSeen = false
    var storage: ByteStorage?
    var received = 0

    init(message: InboundMessage, request: RequestID? = nil) {
        self.message = message
        self.request = request
    }

    /// The content header on `channel`: its body size is checked against `maxSize` (and to fit
    /// an Int: max_message_size may be set above Int.max, "no limit"), its properties decoded
    /// into the message (malformed ones close the connection, as a malformed frame does).
    mutating func header(_ header: ContentHeader, maxSize: UInt64, channel: UInt16) -> Step {
        guard !headerSeen else {
            return .violation(.unexpectedFrame, .unexpectedFrame, "content header without a method on channel \(channel)")
        }
        guard header.bodySize <= maxSize, let size = Int(exactly: header.bodySize) else {
            return .violation(.messageTooLarge, .frameError, "a message of \(header.bodySize) bytes exceeds max_message_size \(maxSize)")
        }
        // The message comes empty (new or cleared); a header without properties leaves it so.
        do {
            if !header.hasNoProperties { message.properties = try header.decodeProperties() }
        } catch {
            return .violation(.protocolViolation, .frameError, "malformed frame from the broker: \(error)")
        }
        headerSeen = true
        bodySize = size
        return size == 0 ? .complete : .incomplete
    }

    /// A body frame on `channel`.
    mutating func body(_ body: Bytes, channel: UInt16) -> Step {
        guard headerSeen else {
            return .violation(.unexpectedFrame, .unexpectedFrame, "body frame without a content header on channel \(channel)")
        }
        guard body.count <= bodySize - received else {
            return .violation(.protocolViolation, .frameError, "body frames on channel \(channel) exceed the announced size")
        }
        if received == 0 && body.count == bodySize {
            message.body = body // the whole body in one frame: no copy
            received = bodySize
            return .complete
        }
        if storage == nil {
            guard let allocated = ByteStorage(capacity: bodySize) else {
                return .violation(.messageTooLarge, .internalError, "could not allocate \(bodySize) bytes for a message")
            }
            storage = allocated
        }
        if let storage, let source = body.baseAddress {
            (storage.base + received).copyMemory(from: source, byteCount: body.count)
        }
        received += body.count
        guard received == bodySize, let storage else { return .incomplete }
        message.body = Bytes(storage: storage, offset: 0, count: bodySize)
        return .complete
    }
}
