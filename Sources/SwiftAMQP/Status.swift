#if canImport(Glibc)
import Glibc
#endif
import AMQPEngine
import CShim
import AMQPWire
import CSwiftAMQPAPI

extension ErrorKind {
    var status: swamqp_status {
        switch self {
        case .invalidArgument: return SWAMQP_ERR_INVALID_ARGUMENT
        case .badState: return SWAMQP_ERR_BAD_STATE
        case .channelLimit: return SWAMQP_ERR_CHANNEL_LIMIT
        case .timeout: return SWAMQP_ERR_TIMEOUT
        case .wouldBlock: return SWAMQP_ERR_WOULD_BLOCK
        case .resolve: return SWAMQP_ERR_RESOLVE
        case .connect: return SWAMQP_ERR_CONNECT
        case .io: return SWAMQP_ERR_IO
        case .connectionLost: return SWAMQP_ERR_CONNECTION_LOST
        case .heartbeatTimeout: return SWAMQP_ERR_HEARTBEAT_TIMEOUT
        case .tls: return SWAMQP_ERR_TLS
        case .protocolViolation: return SWAMQP_ERR_PROTOCOL
        case .frameTooLarge: return SWAMQP_ERR_FRAME_TOO_LARGE
        case .messageTooLarge: return SWAMQP_ERR_MESSAGE_TOO_LARGE
        case .unexpectedFrame: return SWAMQP_ERR_UNEXPECTED_FRAME
        case .authentication: return SWAMQP_ERR_AUTH
        case .channelClosed: return SWAMQP_ERR_CHANNEL_CLOSED
        case .connectionClosed: return SWAMQP_ERR_CONNECTION_CLOSED
        case .closedByApplication: return SWAMQP_ERR_CLOSED_BY_APPLICATION
        case .notConfirmMode: return SWAMQP_ERR_NOT_CONFIRM_MODE
        case .nacked: return SWAMQP_ERR_NACKED
        case .recovering: return SWAMQP_ERR_RECOVERING
        case .staleDeliveryTag: return SWAMQP_ERR_STALE_DELIVERY_TAG
        }
    }
}

/// Writes `error` into a caller's swamqp_error (if any) and returns its status.
func report(_ error: AMQPError, _ out: UnsafeMutablePointer<swamqp_error>?) -> Int32 {
    let status = error.kind.status.rawValue
    if let out { fill(out, error) }
    return status
}

func fill(_ out: UnsafeMutablePointer<swamqp_error>, _ error: AMQPError) {
    out.pointee.status = error.kind.status.rawValue
    out.pointee.origin = error.fromBroker ? Int32(SWAMQP_ORIGIN_BROKER.rawValue) : Int32(SWAMQP_ORIGIN_LIBRARY.rawValue)
    out.pointee.reply_code = error.replyCode
    out.pointee.class_id = error.classID
    out.pointee.method_id = error.methodID
    out.pointee.channel = error.channel
    let text = error.message // a broker's reply text already starts with the reply name
    withUnsafeMutableBytes(of: &out.pointee.message) { raw in
        let utf8 = Array(text.utf8.prefix(raw.count - 1))
        for (i, byte) in utf8.enumerated() { raw[i] = byte }
        raw[utf8.count] = 0
    }
}

/// A library error with a status and message, for argument checks.
func report(_ kind: ErrorKind, _ message: String, _ out: UnsafeMutablePointer<swamqp_error>?) -> Int32 {
    report(AMQPError(kind, message), out)
}

/// A library error whose status is the ABI's own (handles, callbacks, fork, memory), which no
/// engine ErrorKind names.
func report(status: swamqp_status, _ message: String, _ out: UnsafeMutablePointer<swamqp_error>?) -> Int32 {
    if let out {
        fill(out, AMQPError(.invalidArgument, message))
        out.pointee.status = status.rawValue
    }
    return status.rawValue
}

/// SWAMQP_ERR_IN_CALLBACK, reported, when a blocking call is made from inside an event callback.
func inCallbackError(_ out: UnsafeMutablePointer<swamqp_error>?) -> Int32? {
    guard swiftamqp_shim_callback_depth() > 0 else { return nil }
    return report(status: SWAMQP_ERR_IN_CALLBACK, "a blocking call was made from inside an event callback", out)
}

/// Clears a caller's swamqp_error on success paths that must leave it defined.
func clear(_ out: UnsafeMutablePointer<swamqp_error>?) {
    guard let out else { return }
    out.pointee = swamqp_error()
}

private let statusNames: [(swamqp_status, StaticString)] = [
    (SWAMQP_OK, "SWAMQP_OK"),
    (SWAMQP_ERR_INVALID_ARGUMENT, "SWAMQP_ERR_INVALID_ARGUMENT"),
    (SWAMQP_ERR_INVALID_HANDLE, "SWAMQP_ERR_INVALID_HANDLE"),
    (SWAMQP_ERR_NO_MEMORY, "SWAMQP_ERR_NO_MEMORY"),
    (SWAMQP_ERR_IN_CALLBACK, "SWAMQP_ERR_IN_CALLBACK"),
    (SWAMQP_ERR_FORKED, "SWAMQP_ERR_FORKED"),
    (SWAMQP_ERR_BAD_STATE, "SWAMQP_ERR_BAD_STATE"),
    (SWAMQP_ERR_CHANNEL_LIMIT, "SWAMQP_ERR_CHANNEL_LIMIT"),
    (SWAMQP_ERR_NOT_CONFIRM_MODE, "SWAMQP_ERR_NOT_CONFIRM_MODE"),
    (SWAMQP_ERR_STALE_DELIVERY_TAG, "SWAMQP_ERR_STALE_DELIVERY_TAG"),
    (SWAMQP_ERR_TIMEOUT, "SWAMQP_ERR_TIMEOUT"),
    (SWAMQP_ERR_WOULD_BLOCK, "SWAMQP_ERR_WOULD_BLOCK"),
    (SWAMQP_ERR_RESOLVE, "SWAMQP_ERR_RESOLVE"),
    (SWAMQP_ERR_CONNECT, "SWAMQP_ERR_CONNECT"),
    (SWAMQP_ERR_IO, "SWAMQP_ERR_IO"),
    (SWAMQP_ERR_CONNECTION_LOST, "SWAMQP_ERR_CONNECTION_LOST"),
    (SWAMQP_ERR_HEARTBEAT_TIMEOUT, "SWAMQP_ERR_HEARTBEAT_TIMEOUT"),
    (SWAMQP_ERR_TLS, "SWAMQP_ERR_TLS"),
    (SWAMQP_ERR_RECOVERING, "SWAMQP_ERR_RECOVERING"),
    (SWAMQP_ERR_PROTOCOL, "SWAMQP_ERR_PROTOCOL"),
    (SWAMQP_ERR_FRAME_TOO_LARGE, "SWAMQP_ERR_FRAME_TOO_LARGE"),
    (SWAMQP_ERR_MESSAGE_TOO_LARGE, "SWAMQP_ERR_MESSAGE_TOO_LARGE"),
    (SWAMQP_ERR_UNEXPECTED_FRAME, "SWAMQP_ERR_UNEXPECTED_FRAME"),
    (SWAMQP_ERR_AUTH, "SWAMQP_ERR_AUTH"),
    (SWAMQP_ERR_NACKED, "SWAMQP_ERR_NACKED"),
    (SWAMQP_ERR_CHANNEL_CLOSED, "SWAMQP_ERR_CHANNEL_CLOSED"),
    (SWAMQP_ERR_CONNECTION_CLOSED, "SWAMQP_ERR_CONNECTION_CLOSED"),
    (SWAMQP_ERR_CLOSED_BY_APPLICATION, "SWAMQP_ERR_CLOSED_BY_APPLICATION"),
]

@_cdecl("swamqp_status_string")
public func swamqp_status_string(_ status: Int32) -> UnsafePointer<CChar> {
    let name: StaticString = statusNames.first { $0.0.rawValue == status }?.1 ?? "SWAMQP_ERR_UNKNOWN"
    return UnsafeRawPointer(name.utf8Start).assumingMemoryBound(to: CChar.self)
}

private let versionString: StaticString = "0.1.0"

@_cdecl("swamqp_version")
public func swamqp_version() -> UnsafePointer<CChar> {
    UnsafeRawPointer(versionString.utf8Start).assumingMemoryBound(to: CChar.self)
}

@_cdecl("swamqp_version_number")
public func swamqp_version_number() -> UInt32 {
    UInt32(SWAMQP_VERSION_MAJOR * 10000 + SWAMQP_VERSION_MINOR * 100 + SWAMQP_VERSION_PATCH)
}
