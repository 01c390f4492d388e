#if canImport(Glibc)
import Glibc
#endif
import AMQPEngine
import AMQPWire
import CSwiftAMQPAPI

/// Stores a message count reply into an optional out pointer.
private func storeCount(_ out: UnsafeMutablePointer<UInt32>?) -> (Reply) -> Int32 {
    { reply in
        if case .messageCount(let count) = reply { out?.pointee = count }
        return SWAMQP_OK.rawValue
    }
}

// MARK: exchange.delete

private func exchangeDelete(_ exchange: swamqp_bytes, _ flags: UInt32) throws(InvalidArgument) -> Method {
    try onlyFlags(flags, [SWAMQP_IF_UNUSED, SWAMQP_NOWAIT], "exchange.delete")
    return .exchangeDelete(ExchangeDelete(exchange: try shortString(exchange, "exchange"), ifUnused: flag(flags, SWAMQP_IF_UNUSED),
                                   nowait: flag(flags, SWAMQP_NOWAIT)))
}

@_cdecl("swamqp_exchange_delete")
public func swamqp_exchange_delete(_ c: OpaquePointer?, _ channel: UInt16, _ exchange: swamqp_bytes, _ flags: UInt32,
                                   _ timeoutMs: UInt32, _ error: UnsafeMutablePointer<swamqp_error>?) -> Int32 {
    channelCall(c, channel, .blocking(timeoutMs: timeoutMs), error, noWait: flag(flags, SWAMQP_NOWAIT)) { () throws(InvalidArgument) in
        try exchangeDelete(exchange, flags)
    }
}

@_cdecl("swamqp_exchange_delete_async")
public func swamqp_exchange_delete_async(_ c: OpaquePointer?, _ channel: UInt16, _ exchange: swamqp_bytes, _ flags: UInt32,
                                         _ requestID: UnsafeMutablePointer<UInt64>?, _ error: UnsafeMutablePointer<swamqp_error>?) -> Int32 {
    channelCall(c, channel, .async(requestID), error, noWait: flag(flags, SWAMQP_NOWAIT)) { () throws(InvalidArgument) in
        try exchangeDelete(exchange, flags)
    }
}

// MARK: exchange.bind, exchange.unbind

private func exchangeBinding(unbind: Bool, _ destination: swamqp_bytes, _ source: swamqp_bytes, _ key: swamqp_bytes, _ flags: UInt32,
                             _ arguments: UnsafePointer<swamqp_table>?) throws(InvalidArgument) -> Method {
    try onlyFlags(flags, [SWAMQP_NOWAIT], unbind ? "exchange.unbind" : "exchange.bind")
    let destination = try shortString(destination, "destination")
    let source = try shortString(source, "source")
    let key = try shortString(key, "routing_key")
    let table = try table(arguments)
    let noWait = flag(flags, SWAMQP_NOWAIT)
    return unbind
        ? .exchangeUnbind(ExchangeUnbind(destination: destination, source: source, routingKey: key, nowait: noWait, arguments: table))
        : .exchangeBind(ExchangeBind(destination: destination, source: source, routingKey: key, nowait: noWait, arguments: table))
}

@_cdecl("swamqp_exchange_bind")
public func swamqp_exchange_bind(_ c: OpaquePointer?, _ channel: UInt16, _ destination: swamqp_bytes, _ source: swamqp_bytes,
                                 _ key: swamqp_bytes, _ flags: UInt32, _ arguments: UnsafePointer<swamqp_table>?,
                                 _ timeoutMs: UInt32, _ error: UnsafeMutablePointer<swamqp_error>?) -> Int32 {
    channelCall(c, channel, .blocking(timeoutMs: timeoutMs), error, noWait: flag(flags, SWAMQP_NOWAIT)) { () throws(InvalidArgument) in
        try exchangeBinding(unbind: false, destination, source, key, flags, arguments)
    }
}

@_cdecl("swamqp_exchange_bind_async")
public func swamqp_exchange_bind_async(_ c: OpaquePointer?, _ channel: UInt16, _ destination: swamqp_bytes, _ source: swamqp_bytes,
                                       _ key: swamqp_bytes, _ flags: UInt32, _ arguments: UnsafePointer<swamqp_table>?,
                                       _ requestID: UnsafeMutablePointer<UInt64>?, _ error: UnsafeMutablePointer<swamqp_error>?) -> Int32 {
    channelCall(c, channel, .async(requestID), error, noWait: flag(flags, SWAMQP_NOWAIT)) { () throws(InvalidArgument) in
        try exchangeBinding(unbind: false, destination, source, key, flags, arguments)
    }
}

@_cdecl("swamqp_exchange_unbind")
public func swamqp_exchange_unbind(_ c: OpaquePointer?, _ channel: UInt16, _ destination: swamqp_bytes, _ source: swamqp_bytes,
                                   _ key: swamqp_bytes, _ flags: UInt32, _ arguments: UnsafePointer<swamqp_table>?,
                                   _ timeoutMs: UInt32, _ error: UnsafeMutablePointer<swamqp_error>?) -> Int32 {
    channelCall(c, channel, .blocking(timeoutMs: timeoutMs), error, noWait: flag(flags, SWAMQP_NOWAIT)) { () throws(InvalidArgument) in
        try exchangeBinding(unbind: true, destination, source, key, flags, arguments)
    }
}

@_cdecl("swamqp_exchange_unbind_async")
public func swamqp_exchange_unbind_async(_ c: OpaquePointer?, _ channel: UInt16, _ destination: swamqp_bytes, _ source: swamqp_bytes,
                                         _ key: swamqp_bytes, _ flags: UInt32, _ arguments: UnsafePointer<swamqp_table>?,
                                         _ requestID: UnsafeMutablePointer<UInt64>?, _ error: UnsafeMutablePointer<swamqp_error>?) -> Int32 {
    channelCall(c, channel, .async(requestID), error, noWait: flag(flags, SWAMQP_NOWAIT)) { () throws(InvalidArgument) in
        try exchangeBinding(unbind: true, destination, source, key, flags, arguments)
    }
}

// MARK: queue.unbind, queue.purge, queue.delete

private func queueUnbind(_ queue: swamqp_bytes, _ exchange: swamqp_bytes, _ key: swamqp_bytes,
                         _ arguments: UnsafePointer<swamqp_table>?) throws(InvalidArgument) -> Method {
    .queueUnbind(QueueUnbind(queue: try shortString(queue, "queue"), exchange: try shortString(exchange, "exchange"),
                             routingKey: try shortString(key, "routing_key"), arguments: try table(arguments)))
}

@_cdecl("swamqp_queue_unbind")
public func swamqp_queue_unbind(_ c: OpaquePointer?, _ channel: UInt16, _ queue: swamqp_bytes, _ exchange: swamqp_bytes,
                                _ key: swamqp_bytes, _ arguments: UnsafePointer<swamqp_table>?, _ timeoutMs: UInt32,
                                _ error: UnsafeMutablePointer<swamqp_error>?) -> Int32 {
    channelCall(c, channel, .blocking(timeoutMs: timeoutMs), error, noWait: false) { () throws(InvalidArgument) in
        try queueUnbind(queue, exchange, key, arguments)
    }
}

@_cdecl("swamqp_queue_unbind_async")
public func swamqp_queue_unbind_async(_ c: OpaquePointer?, _ channel: UInt16, _ queue: swamqp_bytes, _ exchange: swamqp_bytes,
                                      _ key: swamqp_bytes, _ arguments: UnsafePointer<swamqp_table>?,
                                      _ requestID: UnsafeMutablePointer<UInt64>?, _ error: UnsafeMutablePointer<swamqp_error>?) -> Int32 {
    channelCall(c, channel, .async(requestID), error, noWait: false) { () throws(InvalidArgument) in
        try queueUnbind(queue, exchange, key, arguments)
    }
}

private func queuePurge(_ queue: swamqp_bytes, _ flags: UInt32) throws(InvalidArgument) -> Method {
    try onlyFlags(flags, [SWAMQP_NOWAIT], "queue.purge")
    return .queuePurge(QueuePurge(queue: try shortString(queue, "queue"), nowait: flag(flags, SWAMQP_NOWAIT)))
}

@_cdecl("swamqp_queue_purge")
public func swamqp_queue_purge(_ c: OpaquePointer?, _ channel: UInt16, _ queue: swamqp_bytes, _ flags: UInt32,
                               _ messageCount: UnsafeMutablePointer<UInt32>?, _ timeoutMs: UInt32,
                               _ error: UnsafeMutablePointer<swamqp_error>?) -> Int32 {
    messageCount?.pointee = 0
    return channelCall(c, channel, .blocking(timeoutMs: timeoutMs), error, noWait: flag(flags, SWAMQP_NOWAIT),
                       build: { () throws(InvalidArgument) in try queuePurge(queue, flags) }, onReply: storeCount(messageCount))
}

@_cdecl("swamqp_queue_purge_async")
public func swamqp_queue_purge_async(_ c: OpaquePointer?, _ channel: UInt16, _ queue: swamqp_bytes, _ flags: UInt32,
                                     _ requestID: UnsafeMutablePointer<UInt64>?, _ error: UnsafeMutablePointer<swamqp_error>?) -> Int32 {
    channelCall(c, channel, .async(requestID), error, noWait: flag(flags, SWAMQP_NOWAIT)) { () throws(InvalidArgument) in
        try queuePurge(queue, flags)
    }
}

private func queueDelete(_ queue: swamqp_bytes, _ flags: UInt32) throws(InvalidArgument) -> Method {
    try onlyFlags(flags, [SWAMQP_IF_UNUSED, SWAMQP_IF_EMPTY, SWAMQP_NOWAIT], "queue.delete")
    return .queueDelete(QueueDelete(queue: try shortString(queue, "queue"), ifUnused: flag(flags, SWAMQP_IF_UNUSED),
                             ifEmpty: flag(flags, SWAMQP_IF_EMPTY), nowait: flag(flags, SWAMQP_NOWAIT)))
}

@_cdecl("swamqp_queue_delete")
public func swamqp_queue_delete(_ c: OpaquePointer?, _ channel: UInt16, _ queue: swamqp_bytes, _ flags: UInt32,
                                _ messageCount: UnsafeMutablePointer<UInt32>?, _ timeoutMs: UInt32,
                                _ error: UnsafeMutablePointer<swamqp_error>?) -> Int32 {
    messageCount?.pointee = 0
    return channelCall(c, channel, .blocking(timeoutMs: timeoutMs), error, noWait: flag(flags, SWAMQP_NOWAIT),
                       build: { () throws(InvalidArgument) in try queueDelete(queue, flags) }, onReply: storeCount(messageCount))
}

@_cdecl("swamqp_queue_delete_async")
public func swamqp_queue_delete_async(_ c: OpaquePointer?, _ channel: UInt16, _ queue: swamqp_bytes, _ flags: UInt32,
                                      _ requestID: UnsafeMutablePointer<UInt64>?, _ error: UnsafeMutablePointer<swamqp_error>?) -> Int32 {
    channelCall(c, channel, .async(requestID), error, noWait: flag(flags, SWAMQP_NOWAIT)) { () throws(InvalidArgument) in
        try queueDelete(queue, flags)
    }
}
