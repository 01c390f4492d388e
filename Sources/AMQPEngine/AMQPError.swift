import AMQPWire

/// What went wrong, in the categories the C API reports as status codes.
public enum ErrorKind: Sendable, Equatable {
    case invalidArgument
    case badState
    case channelLimit
    case timeout
    case wouldBlock
    case resolve
    case connect
    case io
    case connectionLost
    case heartbeatTimeout
    case tls
    case protocolViolation
    case frameTooLarge
    case messageTooLarge
    case unexpectedFrame
    case authentication
    case channelClosed
    case connectionClosed
    /// The application closed or freed the connection: its clean end, not a failure.
    case closedByApplication
    case notConfirmMode
    case nacked
    /// The connection is being recovered; try again once it is.
    case recovering
    /// An ack, nack or reject for a delivery received before a recovery (the broker redelivers it).
    case staleDeliveryTag
}

/// An error with the broker's reply when the broker caused it. `recoverable` tells whether the
/// connection survives it (a channel error) or not.
public struct AMQPError: Error, Sendable, Equatable {
    public var kind: ErrorKind
    /// True when the broker closed the channel or connection (reply code and text are the broker's).
    public var fromBroker: Bool
    public var replyCode: UInt16
    public var classID: UInt16
    public var methodID: UInt16
    public var channel: UInt16
    public var message: String

    public init(_ kind: ErrorKind, _ message: String, channel: UInt16 = 0) {
        self.kind = kind
        self.fromBroker = false
        self.replyCode = 0
        self.classID = 0
        self.methodID = 0
        self.channel = channel
        self.message = message
    }

    /// The error a broker's connection.close or channel.close carries.
    public init(brokerClose kind: ErrorKind, replyCode: UInt16, replyText: Bytes, classID: UInt16,
                methodID: UInt16, channel: UInt16) {
        self.kind = kind
        self.fromBroker = true
        self.replyCode = replyCode
        self.classID = classID
        self.methodID = methodID
        self.channel = channel
        self.message = replyText.lossyString
    }

    /// True when only a channel is lost and the connection stays usable.
    public var recoverable: Bool {
        switch kind {
        case .channelClosed, .timeout, .invalidArgument, .wouldBlock, .badState, .channelLimit, .notConfirmMode, .nacked,
             .recovering, .staleDeliveryTag: return true
        default: return false
        }
    }
}

extension AMQPError: CustomStringConvertible {
    public var description: String {
        if fromBroker {
            let name = ReplyCode(rawValue: replyCode)?.name ?? "reply"
            return "\(name) \(replyCode): \(message) (class \(classID), method \(methodID), channel \(channel))"
        }
        return message
    }
}
