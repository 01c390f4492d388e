import AMQPTransport
import CSwiftAMQPAPI

// What a caller can do about an `_async` request it started: stop waiting for it, or bound the
// wait. The undo of a late reply is the engine's (ConnectionStateMachine.abandon).

@_cdecl("swamqp_request_abandon")
public func swamqp_request_abandon(_ pointer: OpaquePointer?, _ requestID: UInt64, _ error: UnsafeMutablePointer<swamqp_error>?) -> Int32 {
    withHandle(pointer, error) { handle in
        guard handle.connection.abandon(requestID) else {
            return report(.invalidArgument, "no _async request \(requestID) awaits its completion on this connection", error)
        }
        return SWAMQP_OK.rawValue
    }
}

@_cdecl("swamqp_request_set_timeout")
public func swamqp_request_set_timeout(_ pointer: OpaquePointer?, _ requestID: UInt64, _ timeoutMs: UInt32,
                                       _ error: UnsafeMutablePointer<swamqp_error>?) -> Int32 {
    withHandle(pointer, error) { handle in
        guard handle.connection.setTimeout(requestID, timeoutMs: timeoutMs) else {
            return report(.invalidArgument, "request \(requestID) was never issued on this connection", error)
        }
        return SWAMQP_OK.rawValue
    }
}
