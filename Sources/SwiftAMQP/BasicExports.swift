#if canImport(Glibc)
import Glibc
#endif
import AMQPEngine
import AMQPWire
import CSwiftAMQPAPI

/// Copies a short string into a caller's fixed-size C char array (a tuple in Swift), NUL-terminated
/// and truncated to fit; returns the length copied.
func copyName<Buffer>(_ name: Bytes, into buffer: inout Buffer) -> Int {
    withUnsafeMutableBytes(of: &buffer) { raw in
        name.withUnsafeBytes { source in
            let n = min(source.count, raw.count - 1)
            if n > 0 { raw.copyMemory(from: UnsafeRawBufferPointer(rebasing: source[0..<n])) }
            raw[n] = 0
            return n
        }
    }
}

// MARK: basic.qos

private func basicQos(_ size: UInt32, _ count: UInt16, _ flags: UInt32) throws(InvalidArgument) -> Method {
    try onlyFlags(flags, [SWAMQP_GLOBAL], "basic.qos")
    return .basicQos(BasicQos(prefetchSize: size, prefetchCount: count, global: flag(flags, SWAMQP_GLOBAL)))
}

@_cdecl("swamqp_basic_qos")
public func swamqp_basic_qos(_ c: OpaquePointer?, _ channel: UInt16, _ size: UInt32, _ count: UInt16, _ flags: UInt32,
                             _ timeoutMs: UInt32, _ error: UnsafeMutablePointer<swamqp_error>?) -> Int32 {
    channelCall(c, channel, .blocking(timeoutMs: timeoutMs), error, noWait: false) { () throws(InvalidArgument) in
        try basicQos(size, count, flags)
    }
}

@_cdecl("swamqp_basic_qos_async")
public func swamqp_basic_qos_async(_ c: OpaquePointer?, _ channel: UInt16, _ size: UInt32, _ count: UInt16, _ flags: UInt32,
                                   _ requestID: UnsafeMutablePointer<UInt64>?, _ error: UnsafeMutablePointer<swamqp_error>?) -> Int32 {
    channelCall(c, channel, .async(requestID), error, noWait: false) { () throws(InvalidArgument) in
        try basicQos(size, count, flags)
    }
}

// MARK: basic.consume, basic.cancel

private func consume(_ queue: swamqp_bytes, _ tag: swamqp_bytes, _ flags: UInt32,
                     _ arguments: UnsafePointer<swamqp_table>?) throws(InvalidArgument) -> Method {
    try onlyFlags(flags, [SWAMQP_NO_LOCAL, SWAMQP_NO_ACK, SWAMQP_EXCLUSIVE, SWAMQP_NOWAIT], "basic.consume")
    let consumerTag = try shortString(tag, "consumer_tag") // NOWAIT without a tag: the engine refuses it
    return .basicConsume(BasicConsume(queue: try shortString(queue, "queue"), consumerTag: consumerTag,
                                      noLocal: flag(flags, SWAMQP_NO_LOCAL), noAck: flag(flags, SWAMQP_NO_ACK),
                                      exclusive: flag(flags, SWAMQP_EXCLUSIVE), nowait: flag(flags, SWAMQP_NOWAIT),
                                      arguments: try table(arguments)))
}

@_cdecl("swamqp_basic_consume")
public func swamqp_basic_consume(_ c: OpaquePointer?, _ channel: UInt16, _ queue: swamqp_bytes, _ consumerTag: swamqp_bytes,
                                 _ flags: UInt32, _ arguments: UnsafePointer<swamqp_table>?, _ tag: UnsafeMutablePointer<swamqp_name>?,
                                 _ timeoutMs: UInt32, _ error: UnsafeMutablePointer<swamqp_error>?) -> Int32 {
    channelCall(c, channel, .blocking(timeoutMs: timeoutMs), error, noWait: flag(flags, SWAMQP_NOWAIT),
                build: { () throws(InvalidArgument) in try consume(queue, consumerTag, flags, arguments) }) { reply in
        if let tag, case .consumerStarted(let name, _) = reply { tag.pointee.len = copyName(name, into: &tag.pointee.name) }
        return SWAMQP_OK.rawValue
    }
}

@_cdecl("swamqp_basic_consume_async")
public func swamqp_basic_consume_async(_ c: OpaquePointer?, _ channel: UInt16, _ queue: swamqp_bytes, _ consumerTag: swamqp_bytes,
                                       _ flags: UInt32, _ arguments: UnsafePointer<swamqp_table>?,
                                       _ requestID: UnsafeMutablePointer<UInt64>?, _ error: UnsafeMutablePointer<swamqp_error>?) -> Int32 {
    channelCall(c, channel, .async(requestID), error, noWait: flag(flags, SWAMQP_NOWAIT)) { () throws(InvalidArgument) in
        try consume(queue, consumerTag, flags, arguments)
    }
}

private func basicCancel(_ consumerTag: swamqp_bytes, _ flags: UInt32) throws(InvalidArgument) -> Method {
    try onlyFlags(flags, [SWAMQP_NOWAIT], "basic.cancel")
    return .basicCancel(BasicCancel(consumerTag: try shortString(consumerTag, "consumer_tag"), nowait: flag(flags, SWAMQP_NOWAIT)))
}

@_cdecl("swamqp_basic_cancel")
public func swamqp_basic_cancel(_ c: OpaquePointer?, _ channel: UInt16, _ consumerTag: swamqp_bytes, _ flags: UInt32,
                                _ timeoutMs: UInt32, _ error: UnsafeMutablePointer<swamqp_error>?) -> Int32 {
    channelCall(c, channel, .blocking(timeoutMs: timeoutMs), error, noWait: flag(flags, SWAMQP_NOWAIT)) { () throws(InvalidArgument) in
        try basicCancel(consumerTag, flags)
    }
}

@_cdecl("swamqp_basic_cancel_async")
public func swamqp_basic_cancel_async(_ c: OpaquePointer?, _ channel: UInt16, _ consumerTag: swamqp_bytes, _ flags: UInt32,
                                      _ requestID: UnsafeMutablePointer<UInt64>?, _ error: UnsafeMutablePointer<swamqp_error>?) -> Int32 {
    channelCall(c, channel, .async(requestID), error, noWait: flag(flags, SWAMQP_NOWAIT)) { () throws(InvalidArgument) in
        try basicCancel(consumerTag, flags)
    }
}

// MARK: basic.recover

private func basicRecover(_ flags: UInt32) throws(InvalidArgument) -> Method {
    try onlyFlags(flags, [SWAMQP_REQUEUE], "basic.recover")
    return .basicRecover(BasicRecover(requeue: flag(flags, SWAMQP_REQUEUE)))
}

@_cdecl("swamqp_basic_recover")
public func swamqp_basic_recover(_ c: OpaquePointer?, _ channel: UInt16, _ flags: UInt32, _ timeoutMs: UInt32,
                                 _ error: UnsafeMutablePointer<swamqp_error>?) -> Int32 {
    channelCall(c, channel, .blocking(timeoutMs: timeoutMs), error, noWait: false) { () throws(InvalidArgument) in
        try basicRecover(flags)
    }
}

@_cdecl("swamqp_basic_recover_async")
public func swamqp_basic_recover_async(_ c: OpaquePointer?, _ channel: UInt16, _ flags: UInt32,
                                       _ requestID: UnsafeMutablePointer<UInt64>?, _ error: UnsafeMutablePointer<swamqp_error>?) -> Int32 {
    channelCall(c, channel, .async(requestID), error, noWait: false) { () throws(InvalidArgument) in
        try basicRecover(flags)
    }
}
