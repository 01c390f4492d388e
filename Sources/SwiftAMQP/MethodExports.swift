#if canImport(Glibc)
import Glibc
#endif
import AMQPEngine
import AMQPTransport
import AMQPWire
import CShim
import CSwiftAMQPAPI

func flag(_ flags: UInt32, _ bit: Int) -> Bool { flags & UInt32(bit) != 0 }

/// Refuses flags `call` does not read: SWAMQP_NO_ACK given to basic_ack is a mistake that silence
/// would hide.
@inline(__always)
func onlyFlags(_ flags: UInt32, _ allowed: [Int], _ call: @autoclosure () -> String) throws(InvalidArgument) {
    let mask = allowed.reduce(UInt32(0)) { $0 | UInt32($1) } // a literal list of constants: folded when inlined
    let foreign = flags & ~mask
    guard foreign == 0 else {
        throw InvalidArgument(message: "\(call()) does not take flag bits 0x\(String(foreign, radix: 16)) (see the header for the flags it reads)")
    }
}

// MARK: exchange.declare

private func exchangeDeclare(_ exchange: swamqp_bytes, _ type: swamqp_bytes, _ flags: UInt32,
                             _ arguments: UnsafePointer<swamqp_table>?) throws(InvalidArgument) -> Method {
    try onlyFlags(flags, [SWAMQP_PASSIVE, SWAMQP_DURABLE, SWAMQP_AUTO_DELETE, SWAMQP_INTERNAL, SWAMQP_NOWAIT], "exchange.declare")
    return .exchangeDeclare(ExchangeDeclare(
        exchange: try shortString(exchange, "exchange"), type: try shortString(type, "exchange type"),
        passive: flag(flags, SWAMQP_PASSIVE), durable: flag(flags, SWAMQP_DURABLE),
        autoDelete: flag(flags, SWAMQP_AUTO_DELETE), internal: flag(flags, SWAMQP_INTERNAL),
        nowait: flag(flags, SWAMQP_NOWAIT), arguments: try table(arguments)))
}

@_cdecl("swamqp_exchange_declare")
public func swamqp_exchange_declare(_ c: OpaquePointer?, _ channel: UInt16, _ exchange: swamqp_bytes, _ type: swamqp_bytes,
                                    _ flags: UInt32, _ arguments: UnsafePointer<swamqp_table>?, _ timeoutMs: UInt32,
                                    _ error: UnsafeMutablePointer<swamqp_error>?) -> Int32 {
    channelCall(c, channel, .blocking(timeoutMs: timeoutMs), error, noWait: flag(flags, SWAMQP_NOWAIT)) { () throws(InvalidArgument) in
        try exchangeDeclare(exchange, type, flags, arguments)
    }
}

@_cdecl("swamqp_exchange_declare_async")
public func swamqp_exchange_declare_async(_ c: OpaquePointer?, _ channel: UInt16, _ exchange: swamqp_bytes, _ type: swamqp_bytes,
                                          _ flags: UInt32, _ arguments: UnsafePointer<swamqp_table>?,
                                          _ requestID: UnsafeMutablePointer<UInt64>?, _ error: UnsafeMutablePointer<swamqp_error>?) -> Int32 {
    channelCall(c, channel, .async(requestID), error, noWait: flag(flags, SWAMQP_NOWAIT)) { () throws(InvalidArgument) in
        try exchangeDeclare(exchange, type, flags, arguments)
    }
}

// MARK: queue.declare

private func queueDeclare(_ queue: swamqp_bytes, _ flags: UInt32, _ arguments: UnsafePointer<swamqp_table>?) throws(InvalidArgument) -> Method {
    try onlyFlags(flags, [SWAMQP_PASSIVE, SWAMQP_DURABLE, SWAMQP_EXCLUSIVE, SWAMQP_AUTO_DELETE, SWAMQP_NOWAIT], "queue.declare")
    return .queueDeclare(QueueDeclare(
        queue: try shortString(queue, "queue"), passive: flag(flags, SWAMQP_PASSIVE), durable: flag(flags, SWAMQP_DURABLE),
        exclusive: flag(flags, SWAMQP_EXCLUSIVE), autoDelete: flag(flags, SWAMQP_AUTO_DELETE),
        nowait: flag(flags, SWAMQP_NOWAIT), arguments: try table(arguments)))
}

@_cdecl("swamqp_queue_declare")
public func swamqp_queue_declare(_ c: OpaquePointer?, _ channel: UInt16, _ queue: swamqp_bytes, _ flags: UInt32,
                                 _ arguments: UnsafePointer<swamqp_table>?, _ result: UnsafeMutablePointer<swamqp_queue_declare_ok>?,
                                 _ timeoutMs: UInt32, _ error: UnsafeMutablePointer<swamqp_error>?) -> Int32 {
    channelCall(c, channel, .blocking(timeoutMs: timeoutMs), error, noWait: flag(flags, SWAMQP_NOWAIT),
                build: { () throws(InvalidArgument) in try queueDeclare(queue, flags, arguments) }) { reply in
        guard let result, case .queueDeclared(let name, let messages, let consumers) = reply else { return SWAMQP_OK.rawValue }
        result.pointee = swamqp_queue_declare_ok()
        result.pointee.name_len = copyName(name, into: &result.pointee.name)
        result.pointee.message_count = messages
        result.pointee.consumer_count = consumers
        return SWAMQP_OK.rawValue
    }
}

@_cdecl("swamqp_queue_declare_async")
public func swamqp_queue_declare_async(_ c: OpaquePointer?, _ channel: UInt16, _ queue: swamqp_bytes, _ flags: UInt32,
                                       _ arguments: UnsafePointer<swamqp_table>?, _ requestID: UnsafeMutablePointer<UInt64>?,
                                       _ error: UnsafeMutablePointer<swamqp_error>?) -> Int32 {
    channelCall(c, channel, .async(requestID), error, noWait: flag(flags, SWAMQP_NOWAIT)) { () throws(InvalidArgument) in
        try queueDeclare(queue, flags, arguments)
    }
}

// MARK: queue.bind

private func queueBind(_ queue: swamqp_bytes, _ exchange: swamqp_bytes, _ key: swamqp_bytes, _ flags: UInt32,
                       _ arguments: UnsafePointer<swamqp_table>?) throws(InvalidArgument) -> Method {
    try onlyFlags(flags, [SWAMQP_NOWAIT], "queue.bind")
    return .queueBind(QueueBind(queue: try shortString(queue, "queue"), exchange: try shortString(exchange, "exchange"),
                         routingKey: try shortString(key, "routing_key"), nowait: flag(flags, SWAMQP_NOWAIT),
                         arguments: try table(arguments)))
}

@_cdecl("swamqp_queue_bind")
public func swamqp_queue_bind(_ c: OpaquePointer?, _ channel: UInt16, _ queue: swamqp_bytes, _ exchange: swamqp_bytes,
                              _ routingKey: swamqp_bytes, _ flags: UInt32, _ arguments: UnsafePointer<swamqp_table>?,
                              _ timeoutMs: UInt32, _ error: UnsafeMutablePointer<swamqp_error>?) -> Int32 {
    channelCall(c, channel, .blocking(timeoutMs: timeoutMs), error, noWait: flag(flags, SWAMQP_NOWAIT)) { () throws(InvalidArgument) in
        try queueBind(queue, exchange, routingKey, flags, arguments)
    }
}

@_cdecl("swamqp_queue_bind_async")
public func swamqp_queue_bind_async(_ c: OpaquePointer?, _ channel: UInt16, _ queue: swamqp_bytes, _ exchange: swamqp_bytes,
                                    _ routingKey: swamqp_bytes, _ flags: UInt32, _ arguments: UnsafePointer<swamqp_table>?,
                                    _ requestID: UnsafeMutablePointer<UInt64>?, _ error: UnsafeMutablePointer<swamqp_error>?) -> Int32 {
    channelCall(c, channel, .async(requestID), error, noWait: flag(flags, SWAMQP_NOWAIT)) { () throws(InvalidArgument) in
        try queueBind(queue, exchange, routingKey, flags, arguments)
    }
}

// MARK: basic.publish, get, ack

@_cdecl("swamqp_basic_publish")
public func swamqp_basic_publish(_ c: OpaquePointer?, _ channel: UInt16, _ exchange: swamqp_bytes, _ routingKey: swamqp_bytes,
                                 _ flags: UInt32, _ props: UnsafePointer<swamqp_properties>?, _ body: swamqp_bytes,
                                 _ sequence: UnsafeMutablePointer<UInt64>?, _ timeoutMs: UInt32,
                                 _ error: UnsafeMutablePointer<swamqp_error>?) -> Int32 {
    withHandle(c, error) { handle in
        sequence?.pointee = 0
        // The caller's exchange, routing key and body are read in place while the frames are
        // encoded: nothing is copied on the way to the outbound buffer.
        let exchangeName: UnsafeRawBufferPointer
        let key: UnsafeRawBufferPointer
        let basicProperties: BasicProperties
        let content: UnsafeRawBufferPointer
        do throws(InvalidArgument) {
            try onlyFlags(flags, [SWAMQP_MANDATORY, SWAMQP_IMMEDIATE], "basic.publish")
            exchangeName = try shortBuffer(exchange, "exchange")
            key = try shortBuffer(routingKey, "routing_key")
            basicProperties = try properties(props)
            content = try messageBody(body, handle)
        } catch let invalid {
            return report(.invalidArgument, invalid.message, error)
        }
        let mandatory = flag(flags, SWAMQP_MANDATORY), immediate = flag(flags, SWAMQP_IMMEDIATE)
        let result = handle.connection.publish(exchange: exchangeName, routingKey: key, mandatory: mandatory, immediate: immediate,
                                               properties: basicProperties, body: content, channel: channel, timeoutMs: timeoutMs)
        switch result {
        case .success(let number):
            sequence?.pointee = number
            clear(error)
            return SWAMQP_OK.rawValue
        case .failure(let failure):
            return report(failure, error)
        }
    }
}

/// A message body from the caller: at most the connection's max_message_size (the limit applies
/// both ways), NULL only when empty.
func messageBody(_ body: swamqp_bytes, _ handle: ConnectionHandle) throws(InvalidArgument) -> UnsafeRawBufferPointer {
    let limit = Int(clamping: handle.connection.configuration.maxMessageSize)
    let count = try checkedLength(body.len, "body length")
    guard count <= limit else { throw InvalidArgument(message: "body is \(count) bytes, above max_message_size \(limit)") }
    return try buffer(body, "body")
}

private func basicGet(_ queue: swamqp_bytes, _ flags: UInt32) throws(InvalidArgument) -> Method {
    try onlyFlags(flags, [SWAMQP_NO_ACK], "basic.get")
    return .basicGet(BasicGet(queue: try shortString(queue, "queue"), noAck: flag(flags, SWAMQP_NO_ACK)))
}

@_cdecl("swamqp_basic_get")
public func swamqp_basic_get(_ c: OpaquePointer?, _ channel: UInt16, _ queue: swamqp_bytes, _ flags: UInt32,
                             _ message: UnsafeMutablePointer<UnsafeMutablePointer<swamqp_message>?>?, _ timeoutMs: UInt32,
                             _ error: UnsafeMutablePointer<swamqp_error>?) -> Int32 {
    guard let message else { return report(.invalidArgument, "message must not be NULL", error) }
    message.pointee = nil
    return channelCall(c, channel, .blocking(timeoutMs: timeoutMs), error, noWait: false,
                       build: { () throws(InvalidArgument) in try basicGet(queue, flags) }) { reply in
        guard case .message(let inbound) = reply else { return SWAMQP_OK.rawValue }
        let arena = Arena()
        guard let cMessage = arena.cMessage(inbound) else { return SWAMQP_ERR_NO_MEMORY.rawValue }
        liveMessages.withLock { $0[UInt(bitPattern: cMessage)] = arena }
        message.pointee = cMessage
        return SWAMQP_OK.rawValue
    }
}

@_cdecl("swamqp_basic_get_async")
public func swamqp_basic_get_async(_ c: OpaquePointer?, _ channel: UInt16, _ queue: swamqp_bytes, _ flags: UInt32,
                                   _ requestID: UnsafeMutablePointer<UInt64>?, _ error: UnsafeMutablePointer<swamqp_error>?) -> Int32 {
    channelCall(c, channel, .async(requestID), error, noWait: false) { () throws(InvalidArgument) in
        try basicGet(queue, flags)
    }
}

@_cdecl("swamqp_message_free")
public func swamqp_message_free(_ message: UnsafeMutablePointer<swamqp_message>?) -> Int32 {
    guard let message else { return SWAMQP_OK.rawValue }
    let arena = liveMessages.withLock { $0.removeValue(forKey: UInt(bitPattern: message)) }
    return arena == nil ? SWAMQP_ERR_INVALID_HANDLE.rawValue : SWAMQP_OK.rawValue
}

/// Sends an ack, nack or reject (no reply is expected).
private func acknowledge(_ c: OpaquePointer?, _ channel: UInt16, _ error: UnsafeMutablePointer<swamqp_error>?,
                         _ kind: ConnectionStateMachine.Acknowledgement, _ tag: UInt64, flags: UInt32) -> Int32 {
    withHandle(c, error) { handle in
        let multiple = flag(flags, SWAMQP_MULTIPLE)
        do throws(InvalidArgument) {
            switch kind {
            case .ack: try onlyFlags(flags, [SWAMQP_MULTIPLE], "basic.ack")
            case .nack: try onlyFlags(flags, [SWAMQP_MULTIPLE, SWAMQP_REQUEUE], "basic.nack")
            case .reject: try onlyFlags(flags, [SWAMQP_REQUEUE], "basic.reject")
            }
        } catch let invalid {
            return report(.invalidArgument, invalid.message, error)
        }
        let failure = handle.connection.acknowledge(kind, deliveryTag: tag, multiple: multiple, channel: channel)
        if let failure { return report(failure, error) }
        clear(error)
        return SWAMQP_OK.rawValue
    }
}

@_cdecl("swamqp_basic_ack")
public func swamqp_basic_ack(_ c: OpaquePointer?, _ channel: UInt16, _ deliveryTag: UInt64, _ flags: UInt32,
                             _ error: UnsafeMutablePointer<swamqp_error>?) -> Int32 {
    acknowledge(c, channel, error, .ack, deliveryTag, flags: flags)
}

@_cdecl("swamqp_basic_nack")
public func swamqp_basic_nack(_ c: OpaquePointer?, _ channel: UInt16, _ deliveryTag: UInt64, _ flags: UInt32,
                              _ error: UnsafeMutablePointer<swamqp_error>?) -> Int32 {
    acknowledge(c, channel, error, .nack(requeue: flag(flags, SWAMQP_REQUEUE)), deliveryTag, flags: flags)
}

@_cdecl("swamqp_basic_reject")
public func swamqp_basic_reject(_ c: OpaquePointer?, _ channel: UInt16, _ deliveryTag: UInt64, _ flags: UInt32,
                                _ error: UnsafeMutablePointer<swamqp_error>?) -> Int32 {
    acknowledge(c, channel, error, .reject(requeue: flag(flags, SWAMQP_REQUEUE)), deliveryTag, flags: flags)
}
