import AMQPWire

/// Identifies a request so its completion can be matched to it. Unique per connection.
public typealias RequestID = UInt64

/// A message received from the broker: a delivery, a basic.get result or a returned message.
public struct InboundMessage: Sendable {
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
    public var properties = BasicProperties()
    public var body = Bytes()

    public init(kind: Kind, channel: UInt16) {
        self.kind = kind
        self.channel = channel
    }
}

/// What a successful request returns.
public enum Reply: Sendable {
    case done
    case channelOpened(UInt16)
    case queueDeclared(name: Bytes, messageCount: UInt32, consumerCount: UInt32)
    case messageCount(UInt32)
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
    case channelClosed(channel: UInt16, AMQPError?)
    /// The last event of a connection.
    case connectionClosed(AMQPError)
    case blocked(reason: Bytes)
    case unblocked
    case consumerCancelled(channel: UInt16, consumerTag: Bytes)
    case flow(channel: UInt16, active: Bool)
    case log(LogLevel, String)
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

    public init() {}
}
