#if canImport(Glibc)
import Glibc
#endif
import AMQPEngine
import AMQPWire
import CSwiftAMQPAPI

/// Memory handed to C for a while: C arrays allocated here and the byte strings whose storage C
/// pointers refer to (kept alive, not copied). Everything goes when the arena does, or at `reset`,
/// which keeps the blocks for the next batch so a steady stream of batches allocates nothing.
final class Arena: @unchecked Sendable {
    /// Blocks small allocations are cut from, so a batch of events costs no malloc per struct.
    private var blocks: [UnsafeMutableRawPointer] = []
    private var blockIndex = 0
    private var blockUsed = 0
    /// Allocations too large for a block, freed at `reset`.
    private var large: [UnsafeMutableRawPointer] = []
    /// A view of each storage the handed-out views point into. The fields and bodies of a batch's
    /// deliveries are mostly views of the same read chunk: a view is kept only when its storage
    /// differs from the last one kept, so a chunk costs one reference, not one per field.
    private var kept: [Bytes] = []
    private var lastKept: ObjectIdentifier?
    private static let blockSize = 16 * 1024

    deinit {
        for pointer in blocks { free(pointer) }
        for pointer in large { free(pointer) }
    }

    /// Forgets everything handed out (the caller's pointers into it become invalid) and keeps
    /// the blocks for reuse.
    func reset() {
        kept.removeAll(keepingCapacity: true)
        lastKept = nil
        for pointer in large { free(pointer) }
        large.removeAll(keepingCapacity: true)
        blockIndex = 0
        blockUsed = 0
    }

    /// Zeroed memory for `count` values; nil when memory is exhausted.
    func allocate<T>(_ type: T.Type, count: Int) -> UnsafeMutablePointer<T>? {
        guard count > 0 else { return nil }
        let (size, overflow) = MemoryLayout<T>.stride.multipliedReportingOverflow(by: count)
        guard !overflow else { return nil }
        let alignment = max(MemoryLayout<T>.alignment, 16)
        if size <= Self.blockSize / 4 {
            var offset = (blockUsed + alignment - 1) / alignment * alignment
            if blockIndex >= blocks.count || offset + size > Self.blockSize {
                if blockIndex < blocks.count { blockIndex += 1 }
                if blockIndex == blocks.count {
                    guard let fresh = malloc(Self.blockSize) else { return nil }
                    blocks.append(fresh)
                }
                offset = 0
            }
            let pointer = blocks[blockIndex] + offset
            blockUsed = offset + size
            memset(pointer, 0, size)
            return pointer.bindMemory(to: T.self, capacity: count)
        }
        guard let raw = calloc(count, MemoryLayout<T>.stride) else { return nil }
        large.append(raw)
        return raw.bindMemory(to: T.self, capacity: count)
    }

    /// A C view of `bytes`, valid while the arena lives. Inlined, so that a field read out of a
    /// message for it need not be retained and released around the call.
    @inline(__always)
    func view(_ bytes: Bytes) -> swamqp_bytes {
        guard bytes.count > 0 else { return swamqp_bytes(bytes: nil, len: 0) }
        let storage = bytes.storageID
        if storage != lastKept {
            kept.append(bytes)
            lastKept = storage
        }
        return swamqp_bytes(bytes: bytes.baseAddress, len: bytes.count)
    }

    /// `view` of a field where it is stored (a message's): a field passed by value is retained
    /// and released around the call; read through its address, only a new storage is.
    @inline(__always)
    func view(at field: UnsafeMutablePointer<Bytes>) -> swamqp_bytes {
        let count = field.pointee.count
        guard count > 0 else { return swamqp_bytes(bytes: nil, len: 0) }
        let storage = field.pointee.storageID
        if storage != lastKept {
            kept.append(field.pointee)
            lastKept = storage
        }
        return swamqp_bytes(bytes: field.pointee.baseAddress, len: count)
    }

    /// A NUL-terminated copy of `text` (for error messages and logs).
    func view(_ text: String) -> swamqp_bytes {
        view(Bytes(text))
    }
}

/// A conversion of C input that failed: what is wrong, for SWAMQP_ERR_INVALID_ARGUMENT.
struct InvalidArgument: Error {
    let message: String
}

// MARK: - C to Swift

/// A C `size_t` length or count. Swift imports `size_t` as `Int`, so values of 2^63 and more
/// (`(size_t)-1` from a failed `read()`, say) arrive negative: every length and count a caller
/// passes goes through here before it sizes a buffer or a loop. Anything negative or above
/// `limit` is an invalid argument naming `what`.
func checkedLength(_ value: Int, _ what: @autoclosure () -> String, limit: Int = .max) throws(InvalidArgument) -> Int {
    guard value >= 0 else {
        throw InvalidArgument(message: "\(what()) is \(UInt(bitPattern: value)), above the largest size this library accepts (2^63-1)")
    }
    guard value <= limit else { throw InvalidArgument(message: "\(what()) is \(value); at most \(limit) is allowed") }
    return value
}

/// A caller's memory as a buffer: the length checked, NULL with a non-zero length an error.
/// `what` is built only for an error: a publish passes three buffers per message.
@inline(__always)
func buffer(_ value: swamqp_bytes, _ what: @autoclosure () -> String, limit: Int = .max) throws(InvalidArgument) -> UnsafeRawBufferPointer {
    let count = value.len
    if count == 0 { return UnsafeRawBufferPointer(start: nil, count: 0) }
    if count > 0, count <= limit, let base = value.bytes { return UnsafeRawBufferPointer(start: base, count: count) }
    throw invalidBuffer(value, what(), limit: limit)
}

/// What is wrong with a buffer `buffer` refused.
private func invalidBuffer(_ value: swamqp_bytes, _ what: String, limit: Int) -> InvalidArgument {
    do throws(InvalidArgument) {
        let count = try checkedLength(value.len, "\(what) length", limit: limit)
        return InvalidArgument(message: "\(what): NULL bytes with length \(count)")
    } catch let invalid {
        return invalid
    }
}

/// Copies a caller's byte string; NULL with a non-zero length is an error naming `what`.
func bytes(_ value: swamqp_bytes, _ what: @autoclosure () -> String, limit: Int = .max) throws(InvalidArgument) -> Bytes {
    let source = try buffer(value, what(), limit: limit)
    return source.isEmpty ? Bytes() : Bytes(copying: source)
}

/// A short string argument read in place (not copied): at most 255 bytes.
@inline(__always)
func shortBuffer(_ value: swamqp_bytes, _ what: @autoclosure () -> String) throws(InvalidArgument) -> UnsafeRawBufferPointer {
    if value.len >= 0, value.len <= 255 { return try buffer(value, what()) }
    let count = try checkedLength(value.len, "\(what()) length")
    throw InvalidArgument(message: "\(what()) is \(count) bytes; AMQP allows at most 255")
}

/// A short string argument: at most 255 bytes.
func shortString(_ value: swamqp_bytes, _ what: @autoclosure () -> String) throws(InvalidArgument) -> Bytes {
    let source = try shortBuffer(value, what())
    return source.isEmpty ? Bytes() : Bytes(copying: source)
}

/// A long string or byte array inside a field table: its length travels in 32 bits.
private let longStringLimit = Int(UInt32.max)

func table(_ pointer: UnsafePointer<swamqp_table>?, depth: Int = 0) throws(InvalidArgument) -> FieldTable {
    guard let pointer else { return FieldTable() }
    return try table(pointer.pointee, depth: depth)
}

func table(_ value: swamqp_table, depth: Int) throws(InvalidArgument) -> FieldTable {
    guard depth < FieldTable.maxDepth else { throw InvalidArgument(message: "field tables nested too deeply") }
    let count = try checkedLength(value.count, "field table count")
    guard count > 0 else { return FieldTable() }
    guard let entries = value.entries else { throw InvalidArgument(message: "field table: NULL entries with count \(count)") }
    var result: [FieldTable.Entry] = []
    result.reserveCapacity(min(count, 1024))
    for i in 0..<count {
        let entry = entries[i]
        let keyLength = try checkedLength(entry.key.len, "field table key length")
        // A short string on the wire: the spec asks for 128 bytes at most, RabbitMQ and librabbitmq take 255.
        guard keyLength <= 255 else { throw InvalidArgument(message: "field table key is \(keyLength) bytes; a key is a short string of at most 255") }
        let key = try bytes(entry.key, "field table key")
        result.append(FieldTable.Entry(key: key, value: try fieldValue(entry.value, depth: depth + 1)))
    }
    return FieldTable(result)
}

func fieldValue(_ value: swamqp_field_value, depth: Int) throws(InvalidArgument) -> FieldValue {
    let u = value.value
    switch value.kind {
    case UInt8(ascii: "t"): return .bool(u.boolean)
    case UInt8(ascii: "b"): return .int8(u.i8)
    case UInt8(ascii: "B"): return .uint8(u.u8)
    case UInt8(ascii: "s"): return .int16(u.i16)
    case UInt8(ascii: "u"): return .uint16(u.u16)
    case UInt8(ascii: "I"): return .int32(u.i32)
    case UInt8(ascii: "i"): return .uint32(u.u32)
    case UInt8(ascii: "l"): return .int64(u.i64)
    case UInt8(ascii: "L"):
        guard u.u64 <= UInt64(Int64.max) else { throw InvalidArgument(message: "a uint64 field value above 2^63-1 cannot be sent (RabbitMQ has no unsigned 64-bit type)") }
        return .uint64(u.u64)
    case UInt8(ascii: "f"): return .float(u.f32)
    case UInt8(ascii: "d"): return .double(u.f64)
    case UInt8(ascii: "D"): return .decimal(scale: u.decimal.scale, value: u.decimal.value)
    case UInt8(ascii: "S"): return .longString(try bytes(u.bytes, "string field value", limit: longStringLimit))
    case UInt8(ascii: "x"): return .byteArray(try bytes(u.bytes, "byte array field value", limit: longStringLimit))
    case UInt8(ascii: "T"): return .timestamp(u.u64)
    case UInt8(ascii: "V"): return .void
    case UInt8(ascii: "F"): return .table(try table(u.table, depth: depth))
    case UInt8(ascii: "A"):
        guard depth < FieldTable.maxDepth else { throw InvalidArgument(message: "field arrays nested too deeply") }
        let count = try checkedLength(u.array.count, "field array count")
        guard count > 0 else { return .array([]) }
        guard let values = u.array.values else { throw InvalidArgument(message: "field array: NULL values with count \(count)") }
        var result: [FieldValue] = []
        result.reserveCapacity(min(count, 1024))
        for i in 0..<count { result.append(try fieldValue(values[i], depth: depth + 1)) }
        return .array(result)
    default:
        throw InvalidArgument(message: "unknown field kind \(value.kind)")
    }
}

func properties(_ pointer: UnsafePointer<swamqp_properties>?) throws(InvalidArgument) -> BasicProperties {
    guard let p = pointer?.pointee else { return BasicProperties() }
    var result = BasicProperties()
    func has(_ flag: Int) -> Bool { p.flags & UInt32(flag) != 0 }
    if has(SWAMQP_PROP_CONTENT_TYPE) { result.contentType = try shortString(p.content_type, "content_type") }
    if has(SWAMQP_PROP_CONTENT_ENCODING) { result.contentEncoding = try shortString(p.content_encoding, "content_encoding") }
    if has(SWAMQP_PROP_HEADERS) { result.headers = try table(p.headers, depth: 0) }
    if has(SWAMQP_PROP_DELIVERY_MODE) { result.deliveryMode = p.delivery_mode }
    if has(SWAMQP_PROP_PRIORITY) { result.priority = p.priority }
    if has(SWAMQP_PROP_CORRELATION_ID) { result.correlationId = try shortString(p.correlation_id, "correlation_id") }
    if has(SWAMQP_PROP_REPLY_TO) { result.replyTo = try shortString(p.reply_to, "reply_to") }
    if has(SWAMQP_PROP_EXPIRATION) { result.expiration = try shortString(p.expiration, "expiration") }
    if has(SWAMQP_PROP_MESSAGE_ID) { result.messageId = try shortString(p.message_id, "message_id") }
    if has(SWAMQP_PROP_TIMESTAMP) { result.timestamp = p.timestamp }
    if has(SWAMQP_PROP_TYPE) { result.type = try shortString(p.type, "type") }
    if has(SWAMQP_PROP_USER_ID) { result.userId = try shortString(p.user_id, "user_id") }
    if has(SWAMQP_PROP_APP_ID) { result.appId = try shortString(p.app_id, "app_id") }
    if has(SWAMQP_PROP_CLUSTER_ID) { result.clusterId = try shortString(p.cluster_id, "cluster_id") }
    return result
}

/// A caller's C string, or nil for NULL.
func string(_ pointer: UnsafePointer<CChar>?) -> String? {
    guard let pointer else { return nil }
    return String(decoding: UnsafeRawBufferPointer(start: pointer, count: strlen(pointer)), as: UTF8.self)
}

// MARK: - Swift to C

extension Arena {
    func cTable(_ table: FieldTable) -> swamqp_table {
        guard !table.entries.isEmpty, let entries = allocate(swamqp_table_entry.self, count: table.entries.count) else {
            return swamqp_table(count: 0, entries: nil)
        }
        for (i, entry) in table.entries.enumerated() {
            entries[i].key = view(entry.key)
            entries[i].value = cValue(entry.value)
        }
        return swamqp_table(count: table.entries.count, entries: entries)
    }

    func cValue(_ value: FieldValue) -> swamqp_field_value {
        var v = swamqp_field_value()
        switch value {
        case .bool(let x): v.kind = UInt8(ascii: "t"); v.value.boolean = x
        case .int8(let x): v.kind = UInt8(ascii: "b"); v.value.i8 = x
        case .uint8(let x): v.kind = UInt8(ascii: "B"); v.value.u8 = x
        case .int16(let x): v.kind = UInt8(ascii: "s"); v.value.i16 = x
        case .uint16(let x): v.kind = UInt8(ascii: "u"); v.value.u16 = x
        case .int32(let x): v.kind = UInt8(ascii: "I"); v.value.i32 = x
        case .uint32(let x): v.kind = UInt8(ascii: "i"); v.value.u32 = x
        case .int64(let x): v.kind = UInt8(ascii: "l"); v.value.i64 = x
        case .uint64(let x): v.kind = UInt8(ascii: "L"); v.value.u64 = x
        case .float(let x): v.kind = UInt8(ascii: "f"); v.value.f32 = x
        case .double(let x): v.kind = UInt8(ascii: "d"); v.value.f64 = x
        case .decimal(let scale, let x): v.kind = UInt8(ascii: "D"); v.value.decimal = swamqp_decimal(scale: scale, value: x)
        case .longString(let x): v.kind = UInt8(ascii: "S"); v.value.bytes = view(x)
        case .byteArray(let x): v.kind = UInt8(ascii: "x"); v.value.bytes = view(x)
        case .timestamp(let x): v.kind = UInt8(ascii: "T"); v.value.u64 = x
        case .void: v.kind = UInt8(ascii: "V")
        case .table(let x): v.kind = UInt8(ascii: "F"); v.value.table = cTable(x)
        case .array(let values):
            v.kind = UInt8(ascii: "A")
            if let array = allocate(swamqp_field_value.self, count: values.count) {
                for (i, element) in values.enumerated() { array[i] = cValue(element) }
                v.value.array = swamqp_array(count: values.count, values: array)
            }
        }
        return v
    }

    func cProperties(_ p: borrowing BasicProperties) -> swamqp_properties {
        var c = swamqp_properties()
        func set(_ flag: Int) { c.flags |= UInt32(flag) }
        if let x = p.contentType { set(SWAMQP_PROP_CONTENT_TYPE); c.content_type = view(x) }
        if let x = p.contentEncoding { set(SWAMQP_PROP_CONTENT_ENCODING); c.content_encoding = view(x) }
        if let x = p.headers { set(SWAMQP_PROP_HEADERS); c.headers = cTable(x) }
        if let x = p.deliveryMode { set(SWAMQP_PROP_DELIVERY_MODE); c.delivery_mode = x }
        if let x = p.priority { set(SWAMQP_PROP_PRIORITY); c.priority = x }
        if let x = p.correlationId { set(SWAMQP_PROP_CORRELATION_ID); c.correlation_id = view(x) }
        if let x = p.replyTo { set(SWAMQP_PROP_REPLY_TO); c.reply_to = view(x) }
        if let x = p.expiration { set(SWAMQP_PROP_EXPIRATION); c.expiration = view(x) }
        if let x = p.messageId { set(SWAMQP_PROP_MESSAGE_ID); c.message_id = view(x) }
        if let x = p.timestamp { set(SWAMQP_PROP_TIMESTAMP); c.timestamp = x }
        if let x = p.type { set(SWAMQP_PROP_TYPE); c.type = view(x) }
        if let x = p.userId { set(SWAMQP_PROP_USER_ID); c.user_id = view(x) }
        if let x = p.appId { set(SWAMQP_PROP_APP_ID); c.app_id = view(x) }
        if let x = p.clusterId { set(SWAMQP_PROP_CLUSTER_ID); c.cluster_id = view(x) }
        return c
    }

    func cMessage(_ m: InboundMessage) -> UnsafeMutablePointer<swamqp_message>? {
        guard let c = allocate(swamqp_message.self, count: 1) else { return nil }
        c.pointee.channel = m.channel
        c.pointee.redelivered = m.redelivered
        c.pointee.delivery_tag = m.deliveryTag
        c.pointee.consumer_tag = withUnsafeMutablePointer(to: &m.consumerTag) { view(at: $0) }
        c.pointee.exchange = withUnsafeMutablePointer(to: &m.exchange) { view(at: $0) }
        c.pointee.routing_key = withUnsafeMutablePointer(to: &m.routingKey) { view(at: $0) }
        c.pointee.message_count = m.messageCount
        c.pointee.reply_code = m.replyCode
        c.pointee.reply_text = withUnsafeMutablePointer(to: &m.replyText) { view(at: $0) }
        // A message without properties (the common case) skips the 14 checks and the value's access.
        if m.propertyFlags != 0 { c.pointee.properties = cProperties(m.properties) }
        c.pointee.body = withUnsafeMutablePointer(to: &m.body) { view(at: $0) }
        return c
    }

    func cError(_ error: AMQPError) -> UnsafeMutablePointer<swamqp_error>? {
        guard let c = allocate(swamqp_error.self, count: 1) else { return nil }
        fill(c, error)
        return c
    }

    /// The C form of one event; its pointers live as long as this arena.
    func cEvent(_ event: EngineEvent) -> swamqp_event {
        var e = swamqp_event()
        switch event {
        case .completion(let id, let channel, let result):
            e.type = Int32(SWAMQP_EVENT_COMPLETION.rawValue)
            e.request_id = id
            e.channel = channel
            switch result {
            case .failure(let error):
                e.status = error.kind.status.rawValue
                e.error = UnsafePointer(cError(error))
            case .success(let reply):
                e.status = SWAMQP_OK.rawValue
                switch reply {
                case .done: break
                case .channelOpened(let number): e.channel = number
                case .queueDeclared(let name, let messages, let consumers):
                    e.name = view(name)
                    e.message_count = messages
                    e.consumer_count = consumers
                case .messageCount(let count): e.message_count = count
                case .consumerStarted(let tag, _), .consumerTag(let tag): e.name = view(tag)
                case .message(let message):
                    e.channel = message.channel
                    e.message = UnsafePointer(cMessage(message))
                case .empty: e.flags |= UInt32(SWAMQP_EVENT_FLAG_EMPTY)
                }
            }
        case .delivery(let message):
            e.type = Int32(SWAMQP_EVENT_DELIVERY.rawValue)
            e.channel = message.channel
            e.delivery_tag = message.deliveryTag
            e.name = withUnsafeMutablePointer(to: &message.consumerTag) { view(at: $0) }
            e.message = UnsafePointer(cMessage(message))
        case .returned(let message):
            e.type = Int32(SWAMQP_EVENT_RETURN.rawValue)
            e.channel = message.channel
            e.delivery_tag = message.publishSequence
            e.message = UnsafePointer(cMessage(message))
        case .confirm(let channel, let ack, let tag, let multiple):
            e.type = Int32((ack ? SWAMQP_EVENT_CONFIRM_ACK : SWAMQP_EVENT_CONFIRM_NACK).rawValue)
            e.channel = channel
            e.delivery_tag = tag
            if multiple { e.flags |= UInt32(SWAMQP_EVENT_FLAG_MULTIPLE) }
        case .channelClosed(let channel, let error, let generation):
            e.type = Int32(SWAMQP_EVENT_CHANNEL_CLOSED.rawValue)
            e.channel = channel
            e.request_id = generation
            if let error {
                e.status = error.kind.status.rawValue
                e.error = UnsafePointer(cError(error))
            }
        case .connectionClosed(let error):
            e.type = Int32(SWAMQP_EVENT_CONNECTION_CLOSED.rawValue)
            e.status = error.kind.status.rawValue
            e.error = UnsafePointer(cError(error))
        case .blocked(let reason):
            e.type = Int32(SWAMQP_EVENT_BLOCKED.rawValue)
            e.name = view(reason)
        case .unblocked:
            e.type = Int32(SWAMQP_EVENT_UNBLOCKED.rawValue)
        case .consumerCancelled(let channel, let tag):
            e.type = Int32(SWAMQP_EVENT_CONSUMER_CANCELLED.rawValue)
            e.channel = channel
            e.name = view(tag)
        case .flow(let channel, let active):
            e.type = Int32(SWAMQP_EVENT_FLOW.rawValue)
            e.channel = channel
            if active { e.flags |= UInt32(SWAMQP_EVENT_FLAG_ACTIVE) }
        case .confirmsFailed(let channel, let upTo, let error):
            e.type = Int32(SWAMQP_EVENT_CONFIRM_NACK.rawValue)
            e.channel = channel
            e.delivery_tag = upTo
            e.flags |= UInt32(SWAMQP_EVENT_FLAG_MULTIPLE)
            e.status = error.kind.status.rawValue
            e.error = UnsafePointer(cError(error))
        case .lateMessage(let message, let request):
            e.type = Int32(SWAMQP_EVENT_LATE_GET_MESSAGE.rawValue)
            e.request_id = request
            e.channel = message.channel
            e.delivery_tag = message.deliveryTag
            e.message = UnsafePointer(cMessage(message))
        case .rawFrame(let channel, let frame):
            e.type = Int32(SWAMQP_EVENT_RAW_FRAME.rawValue)
            e.channel = channel
            e.frame_type = frame.kind.rawValue
            e.class_id = frame.classID
            e.method_id = frame.methodID
            e.payload = view(frame.payload)
        case .recoveryStarted(let error):
            e.type = Int32(SWAMQP_EVENT_RECOVERY_STARTED.rawValue)
            e.status = error.kind.status.rawValue
            e.error = UnsafePointer(cError(error))
        case .recoveryEntityFailed(let entity, let error):
            e.type = Int32(SWAMQP_EVENT_RECOVERY_ENTITY_FAILED.rawValue)
            e.channel = error.channel
            e.name = view(entity)
            e.status = error.kind.status.rawValue
            e.error = UnsafePointer(cError(error))
        case .queueRenamed(let old, let new):
            e.type = Int32(SWAMQP_EVENT_QUEUE_RENAMED.rawValue)
            e.name = view(new)
            e.payload = view(old)
        case .recovered(let failed):
            e.type = Int32(SWAMQP_EVENT_RECOVERED.rawValue)
            e.message_count = UInt32(clamping: failed)
        case .recoveryFailed(let error):
            e.type = Int32(SWAMQP_EVENT_RECOVERY_FAILED.rawValue)
            e.status = error.kind.status.rawValue
            e.error = UnsafePointer(cError(error))
        case .log(let level, let text):
            e.type = Int32(SWAMQP_EVENT_LOG.rawValue)
            e.log_level = level.rawValue
            e.name = view(text)
        }
        return e
    }
}
