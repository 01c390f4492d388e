#if canImport(Glibc)
import Glibc
#endif
import AMQPEngine
import AMQPTransport
import AMQPWire
import CSwiftAMQPAPI

@_cdecl("swamqp_tx_select")
public func swamqp_tx_select(_ c: OpaquePointer?, _ channel: UInt16, _ timeoutMs: UInt32, _ error: UnsafeMutablePointer<swamqp_error>?) -> Int32 {
    channelCall(c, channel, .blocking(timeoutMs: timeoutMs), error, noWait: false) { () throws(InvalidArgument) in .txSelect(TxSelect()) }
}

@_cdecl("swamqp_tx_select_async")
public func swamqp_tx_select_async(_ c: OpaquePointer?, _ channel: UInt16, _ requestID: UnsafeMutablePointer<UInt64>?,
                                   _ error: UnsafeMutablePointer<swamqp_error>?) -> Int32 {
    channelCall(c, channel, .async(requestID), error, noWait: false) { () throws(InvalidArgument) in .txSelect(TxSelect()) }
}

@_cdecl("swamqp_tx_commit")
public func swamqp_tx_commit(_ c: OpaquePointer?, _ channel: UInt16, _ timeoutMs: UInt32, _ error: UnsafeMutablePointer<swamqp_error>?) -> Int32 {
    channelCall(c, channel, .blocking(timeoutMs: timeoutMs), error, noWait: false) { () throws(InvalidArgument) in .txCommit(TxCommit()) }
}

@_cdecl("swamqp_tx_commit_async")
public func swamqp_tx_commit_async(_ c: OpaquePointer?, _ channel: UInt16, _ requestID: UnsafeMutablePointer<UInt64>?,
                                   _ error: UnsafeMutablePointer<swamqp_error>?) -> Int32 {
    channelCall(c, channel, .async(requestID), error, noWait: false) { () throws(InvalidArgument) in .txCommit(TxCommit()) }
}

@_cdecl("swamqp_tx_rollback")
public func swamqp_tx_rollback(_ c: OpaquePointer?, _ channel: UInt16, _ timeoutMs: UInt32, _ error: UnsafeMutablePointer<swamqp_error>?) -> Int32 {
    channelCall(c, channel, .blocking(timeoutMs: timeoutMs), error, noWait: false) { () throws(InvalidArgument) in .txRollback(TxRollback()) }
}

@_cdecl("swamqp_tx_rollback_async")
public func swamqp_tx_rollback_async(_ c: OpaquePointer?, _ channel: UInt16, _ requestID: UnsafeMutablePointer<UInt64>?,
                                     _ error: UnsafeMutablePointer<swamqp_error>?) -> Int32 {
    channelCall(c, channel, .async(requestID), error, noWait: false) { () throws(InvalidArgument) in .txRollback(TxRollback()) }
}

@_cdecl("swamqp_confirm_select")
public func swamqp_confirm_select(_ c: OpaquePointer?, _ channel: UInt16, _ timeoutMs: UInt32,
                                  _ error: UnsafeMutablePointer<swamqp_error>?) -> Int32 {
    channelCall(c, channel, .blocking(timeoutMs: timeoutMs), error, noWait: false) { () throws(InvalidArgument) in
        .confirmSelect(ConfirmSelect(nowait: false))
    }
}

@_cdecl("swamqp_confirm_select_async")
public func swamqp_confirm_select_async(_ c: OpaquePointer?, _ channel: UInt16, _ requestID: UnsafeMutablePointer<UInt64>?,
                                        _ error: UnsafeMutablePointer<swamqp_error>?) -> Int32 {
    channelCall(c, channel, .async(requestID), error, noWait: false) { () throws(InvalidArgument) in
        .confirmSelect(ConfirmSelect(nowait: false))
    }
}

@_cdecl("swamqp_wait_for_confirms")
public func swamqp_wait_for_confirms(_ c: OpaquePointer?, _ channel: UInt16, _ timeoutMs: UInt32,
                                     _ error: UnsafeMutablePointer<swamqp_error>?) -> Int32 {
    withHandle(c, error) { handle in call(handle, .blocking(timeoutMs: timeoutMs, zeroPolls: true), error, .waitForConfirms(channel: channel)) }
}

@_cdecl("swamqp_wait_for_confirms_async")
public func swamqp_wait_for_confirms_async(_ c: OpaquePointer?, _ channel: UInt16, _ requestID: UnsafeMutablePointer<UInt64>?,
                                           _ error: UnsafeMutablePointer<swamqp_error>?) -> Int32 {
    withHandle(c, error) { handle in call(handle, .async(requestID), error, .waitForConfirms(channel: channel)) }
}

/// connection.update-secret of `secret` and `reason` (checked as C values) in `mode`.
private func updateSecret(_ c: OpaquePointer?, _ secret: swamqp_bytes, _ reason: swamqp_bytes, _ mode: CallMode,
                          _ error: UnsafeMutablePointer<swamqp_error>?) -> Int32 {
    withHandle(c, error) { handle in
        let command: EngineCommand
        do throws(InvalidArgument) {
            command = .updateSecret(try bytes(secret, "new_secret"), reason: try shortString(reason, "reason"))
        } catch let invalid {
            return report(.invalidArgument, invalid.message, error)
        }
        return call(handle, mode, error, command)
    }
}

@_cdecl("swamqp_connection_update_secret")
public func swamqp_connection_update_secret(_ c: OpaquePointer?, _ secret: swamqp_bytes, _ reason: swamqp_bytes, _ timeoutMs: UInt32,
                                            _ error: UnsafeMutablePointer<swamqp_error>?) -> Int32 {
    updateSecret(c, secret, reason, .blocking(timeoutMs: timeoutMs), error)
}

@_cdecl("swamqp_connection_update_secret_async")
public func swamqp_connection_update_secret_async(_ c: OpaquePointer?, _ secret: swamqp_bytes, _ reason: swamqp_bytes,
                                                  _ requestID: UnsafeMutablePointer<UInt64>?,
                                                  _ error: UnsafeMutablePointer<swamqp_error>?) -> Int32 {
    updateSecret(c, secret, reason, .async(requestID), error)
}

@_cdecl("swamqp_connection_stats")
public func swamqp_connection_stats(_ c: OpaquePointer?, _ stats: UnsafeMutablePointer<swamqp_stats>?) -> Int32 {
    withHandle(c, nil) { handle in
        guard let stats else { return SWAMQP_ERR_INVALID_ARGUMENT.rawValue }
        let (counters, bytesIn, bytesOut, queued) = handle.connection.statistics()
        var s = swamqp_stats()
        s.frames_in = counters.framesIn
        s.frames_out = counters.framesOut
        s.bytes_in = bytesIn
        s.bytes_out = bytesOut
        s.publishes = counters.publishes
        s.confirms_acked = counters.confirmsAcked
        s.confirms_nacked = counters.confirmsNacked
        s.deliveries = counters.deliveries
        s.returns = counters.returns
        s.heartbeats_in = counters.heartbeatsIn
        s.heartbeats_out = counters.heartbeatsOut
        s.events_queued_bytes = UInt64(max(queued, 0))
        stats.pointee = s
        return SWAMQP_OK.rawValue
    }
}

@_cdecl("swamqp_connection_server_properties")
public func swamqp_connection_server_properties(_ c: OpaquePointer?, _ buffer: UnsafeMutableRawPointer?, _ capacity: Int,
                                                _ written: UnsafeMutablePointer<Int>?,
                                                _ error: UnsafeMutablePointer<swamqp_error>?) -> Int32 {
    written?.pointee = 0
    return withHandle(c, error) { handle in
        var writer = ByteWriter()
        do {
            try writer.writeTable(handle.connection.serverProperties())
        } catch let failure {
            return report(.invalidArgument, "server properties: \(failure)", error)
        }
        return copyOut(writer.buffer, buffer, capacity, written, error)
    }
}
