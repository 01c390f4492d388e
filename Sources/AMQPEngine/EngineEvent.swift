import AMQPWire

/// Identifies a request so its completion can be matched to it. Unique per connection.
public typealias RequestID = UInt64

/// A message received from the broker: a delivery, a basic.get result or a returned message.
///
/// A class so events stay small (the struct was some 600 bytes, copied several times per message).
/// The engine fills it in while the message's frames arrive and never touches it after handing it
/// out in an event; from then on it is read-only, which is what makes sharing it across threads
/// safe. Once the application's drain has converted it, the transport hands it back (`reuse`) and
/// the engine fills it again for a later message, but only when nothing else refers to it.
public final class InboundMessage: @unchecked Sendable {
    public enum Kind: Sendable { case delivery, getOk, returned }
    public var kind: Kind
    public var channel: UInt16
    public var consumerTag = Bytes()
    public var deliveryTag: UInt64 = 0
    public var redelivered = false
    public var exchange = Bytes()
    public var routingKey = Bytes()
    public var messageCount: UInt32 = 0
    public var replyCode: UInt16 = 0
    public var replyText = Bytes()
    public var properties = BasicProperties() { didSet { propertyFlags = properties.flags } }
    /// `properties.flags`, kept so that a message without properties is cleared and converted
    /// without touching the 272-byte value.
    public private(set) var propertyFlags: UInt16 = 0
    public var body = Bytes()
    /// A returned message: the confirm sequence number of the mandatory publish it is, when the
    /// channel is in confirm mode and the publish is known (else 0). See `ConfirmTracker.matchReturn`.
    public var publishSequence: UInt64 = 0
    /// A basic.get result: the get was no-ack (the broker forgot the message when it sent it).
    public var noAck = false

    public init(kind: Kind, channel: UInt16) {
        self.kind = kind
        self.channel = channel
    }

    /// Back to the empty state, releasing what the message referred to (for reuse).
    func clear() {
        consumerTag = Bytes()
        deliveryTag = 0
        redelivered = false
        exchange = Bytes()
        routingKey = Bytes()
        messageCount = 0
        replyCode = 0
        replyText = Bytes()
        if propertyFlags != 0 { properties = BasicProperties() }
        body = Bytes()
        publishSequence = 0
        noAck = false
    }
}

/// What a successful request returns.
public enum Reply: Sendable {
    case done
    case channelOpened(UInt16)
    case queueDeclared(name: Bytes, messageCount: UInt32, consumerCount: UInt32)
    case messageCount(UInt32)
    /// basic.consume-ok: the consumer's tag, and whether it consumes without acks.
    case consumerStarted(tag: Bytes, noAck: Bool)
    /// basic.cancel-ok: the cancelled consumer's tag.
    case consumerTag(Bytes)
    case message(InboundMessage)
    case empty
}

public enum LogLevel: Int32, Sendable {
    case error = 1, warning = 2, info = 3, debug = 4
}

/// Everything the engine reports to the application, in the order it happened.
public enum EngineEvent: Sendable {
    /// A request finished; `channel` is the one it was made on (0 for the connection).
    case completion(RequestID, channel: UInt16, Result<Reply, AMQPError>)
    case delivery(InboundMessage)
    case returned(InboundMessage)
    case confirm(channel: UInt16, ack: Bool, deliveryTag: UInt64, multiple: Bool)
    /// A channel ended: closed by the broker (`error`), or by the application (nil). `generation`
    /// is the id of the request that opened it (see `ChannelStateMachine.generation`).
    case channelClosed(channel: UInt16, AMQPError?, generation: RequestID)
    /// The last event of a connection.
    case connectionClosed(AMQPError)
    case blocked(reason: Bytes)
    case unblocked
    case consumerCancelled(channel: UInt16, consumerTag: Bytes)
    case flow(channel: UInt16, active: Bool)
    /// The channel or connection ended with publishes unconfirmed: every sequence up to `upTo`
    /// that was not confirmed has failed.
    case confirmsFailed(channel: UInt16, upTo: UInt64, AMQPError)
    /// The connection was lost and automatic recovery began (the cause).
    case recoveryStarted(AMQPError)
    /// An entity could not be restored during recovery (and is no longer recorded).
    case recoveryEntityFailed(entity: String, AMQPError)
    /// Recovery declared a server-named queue again and the broker named it anew.
    case queueRenamed(old: Bytes, new: Bytes)
    /// Recovery finished: channels, settings, topology and consumers are back, except the
    /// `failedEntities` reported before.
    case recovered(failedEntities: Int)
    /// Recovery gave up (attempts exhausted); a connectionClosed follows.
    case recoveryFailed(AMQPError)
    /// A message of an abandoned `request` that the broker no longer holds: the result of a no-ack
    /// basic.get, or a delivery to a no-ack consumer whose basic.consume was abandoned. Nothing
    /// else holds it, so it is handed out here rather than lost.
    case lateMessage(InboundMessage, request: RequestID)
    /// A frame of a channel in raw mode, uninterpreted.
    case rawFrame(channel: UInt16, RawFrame)
    case log(LogLevel, String)
}

/// A frame handed to the application as it came (raw channels).
public struct RawFrame: Sendable {
    public enum Kind: UInt8, Sendable { case method = 1, header = 2, body = 3 }
    public var kind: Kind
    public var classID: UInt16 = 0
    public var methodID: UInt16 = 0
    /// A method's encoded arguments, or a header's or body's whole payload.
    public var payload: Bytes

    public init(kind: Kind, classID: UInt16 = 0, methodID: UInt16 = 0, payload: Bytes) {
        self.kind = kind
        self.classID = classID
        self.methodID = methodID
        self.payload = payload
    }
}

/// Running totals of one connection, kept by the engine.
public struct EngineCounters: Sendable {
    public var framesIn: UInt64 = 0
    public var framesOut: UInt64 = 0
    public var publishes: UInt64 = 0
    public var confirmsAcked: UInt64 = 0
    public var confirmsNacked: UInt64 = 0
    public var deliveries: UInt64 = 0
    public var returns: UInt64 = 0
    public var heartbeatsIn: UInt64 = 0
    public var heartbeatsOut: UInt64 = 0
    public init() {}
}

/// What one input to the engine produced: bytes to send, events to deliver, timers and socket changes.
public struct EngineOutput {
    /// Encoded frames to write to the socket, in order.
    public var outbound = ByteWriter(capacity: 4096)
    public var events: [EngineEvent] = []
    /// The socket must be closed (after writing what is in `outbound`).
    public var closeSocket = false
    /// The parser must accept frames up to this size from now on.
    public var newFrameMax: UInt32?
    /// A command set a timer earlier than the I/O thread may be sleeping towards (a close's
    /// timeout): the I/O thread must recompute its wait.
    public var timerChanged = false

    public init() {}
}
