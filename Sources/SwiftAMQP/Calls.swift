#if canImport(Glibc)
import Glibc
#endif
import AMQPEngine
import AMQPTransport
import AMQPWire
import CShim
import CSwiftAMQPAPI

typealias ErrorOut = UnsafeMutablePointer<swamqp_error>?

/// Resolves the handle, reporting an invalid or forked one, then runs `body`.
func withHandle(_ pointer: OpaquePointer?, _ error: ErrorOut, _ body: (ConnectionHandle) -> Int32) -> Int32 {
    switch resolve(pointer) {
    case .failed(let status):
        let message = status == SWAMQP_ERR_FORKED.rawValue
            ? "the connection belongs to the parent process of a fork()"
            : "the connection handle is NULL, freed or not one this library issued"
        return report(status: swamqp_status(rawValue: status), message, error)
    case .found(let handle):
        return body(handle)
    }
}

/// How a request is carried out: waiting for its reply, or returning its id at once.
/// A blocking request to the broker with timeout 0 could only time out after sending it, so it is
/// refused before anything is sent; `zeroPolls` marks the waits for which 0 means "only if the
/// answer is already known" (swamqp_wait_for_confirms).
enum CallMode {
    case blocking(timeoutMs: UInt32, zeroPolls: Bool = false)
    case async(UnsafeMutablePointer<UInt64>?)
}

/// Issues `command` in `mode`; in blocking mode `onReply` turns the reply into outputs. An async
/// `openChannel` stores the channel number it took in `openedChannel`.
func call(_ handle: ConnectionHandle, _ mode: CallMode, _ error: ErrorOut, _ command: EngineCommand,
          openedChannel: UnsafeMutablePointer<UInt16>? = nil,
          onReply: (Reply) -> Int32 = { _ in SWAMQP_OK.rawValue }) -> Int32 {
    switch mode {
    case .async(let requestOut):
        guard let requestOut else { return report(.invalidArgument, "request_id must not be NULL", error) }
        switch handle.connection.request(command, blocking: false) {
        case .success(let started):
            requestOut.pointee = started.id
            if let number = started.channel { openedChannel?.pointee = number }
        case .failure(let failure):
            return report(failure, error)
        }
        clear(error)
        return SWAMQP_OK.rawValue
    case .blocking(let timeoutMs, let zeroPolls):
        if let status = inCallbackError(error) { return status }
        if timeoutMs == 0 && !zeroPolls {
            return report(.invalidArgument, "timeout_ms 0 would give up before the broker can answer, and nothing was sent: "
                          + "pass a timeout, SWAMQP_WAIT_FOREVER, or use the _async form", error)
        }
        let id: RequestID
        switch handle.connection.request(command, blocking: true) {
        case .success(let started): id = started.id
        case .failure(let failure): return report(failure, error)
        }
        switch handle.connection.wait(for: id, timeoutMs: timeoutMs) {
        case .success(let reply):
            clear(error)
            return onReply(reply)
        case .failure(let failure):
            return report(failure, error)
        }
    }
}

/// Sends a synchronous channel method built from C arguments.
func channelCall(_ pointer: OpaquePointer?, _ channel: UInt16, _ mode: CallMode, _ error: ErrorOut,
                 noWait: Bool, build: () throws(InvalidArgument) -> Method,
                 onReply: (Reply) -> Int32 = { _ in SWAMQP_OK.rawValue }) -> Int32 {
    withHandle(pointer, error) { handle in
        let method: Method
        do throws(InvalidArgument) {
            method = try build()
        } catch let invalid {
            return report(.invalidArgument, invalid.message, error)
        }
        return call(handle, mode, error, .call(method, channel: channel, noWait: noWait), onReply: onReply)
    }
}

