/// The content header frame's payload: class, body size and the property list.
///
/// The properties stay encoded (flag word and list, a view into the read buffer) until the engine
/// decodes them into the message they belong to (`decodeProperties`): decoded, they are a
/// 272-byte value, and every frame, being an enum over this, would carry that size through the
/// parser and the engine (measured: most of a delivery's memcpy).
public struct ContentHeader: Equatable, Sendable {
    public var classID: UInt16
    public var bodySize: UInt64
    /// The property flags and list as encoded on the wire.
    public var encodedProperties: Bytes

    /// A header with `properties` encoded (building frames in tests and tools; the publish path
    /// writes its header without this value).
    public init(classID: UInt16 = BasicPublish.classID, bodySize: UInt64, properties: BasicProperties) throws {
        var writer = ByteWriter()
        try properties.encode(into: &writer)
        self.init(classID: classID, bodySize: bodySize, encodedProperties: Bytes(writer.buffer))
    }

    /// The encoding of no properties: a zero flag word.
    public static var noProperties: Bytes { Bytes([0, 0]) }

    public init(classID: UInt16 = BasicPublish.classID, bodySize: UInt64, encodedProperties: Bytes) {
        self.classID = classID
        self.bodySize = bodySize
        self.encodedProperties = encodedProperties
    }

    public init(from reader: inout ByteReader) throws {
        self = try Self.decoded(from: &reader)
    }

    /// Class, weight and body size checked; the rest of the payload is the property list.
    @inline(__always) static func decoded(from reader: inout ByteReader) throws -> Self {
        let classID = try reader.readUInt16("content header class")
        guard classID == BasicPublish.classID else {
            throw WireError.invalidContentHeader("class \(classID) carries no content")
        }
        _ = try reader.readUInt16("content header weight") // always 0, meaning nothing
        let bodySize = try reader.readUInt64("content header body size")
        let properties = try reader.readBytes(count: reader.remaining, "content header properties")
        return Self(classID: classID, bodySize: bodySize, encodedProperties: properties)
    }

    /// True when the header carries no properties: a zero flag word and nothing after it.
    public var hasNoProperties: Bool {
        guard encodedProperties.count == 2, let base = encodedProperties.baseAddress else { return false }
        return base.loadUnaligned(as: UInt16.self) == 0
    }

    /// The properties, decoded and checked (unknown flags, truncated or malformed values and
    /// tables, bytes left over are errors).
    public func decodeProperties() throws -> BasicProperties {
        var reader = ByteReader(encodedProperties)
        let properties = try BasicProperties.decoded(from: &reader)
        try reader.expectEnd("content header")
        return properties
    }

    public func encode(into writer: inout ByteWriter) {
        writer.append(exactly: 12) { c in
            c.uint16(classID)
            c.uint16(0)
            c.uint64(bodySize)
        }
        writer.writeBytes(encodedProperties)
    }
}

/// One decoded frame.
public enum Frame: Equatable, Sendable {
    case method(channel: UInt16, Method)
    case header(channel: UInt16, ContentHeader)
    case body(channel: UInt16, Bytes)
    case heartbeat

    public var channel: UInt16 {
        switch self {
        case .method(let channel, _), .header(let channel, _), .body(let channel, _): return channel
        case .heartbeat: return 0
        }
    }

    /// Decodes a frame's payload; `type` and `channel` come from the 7-byte frame header.
    @inline(__always)
    /// A content header frame's payload, decoded and checked as `decode(type:channel:payload:)` does.
    public static func decodeHeader(payload: Bytes) throws -> ContentHeader {
        var reader = ByteReader(payload)
        return try ContentHeader.decoded(from: &reader)
    }

    /// Whether a method frame's payload is a basic.deliver (its class and method ids); false for a
    /// payload too short to name a method, which `decode(type:channel:payload:)` reports.
    @inline(__always)
    public static func isDeliver(payload: Bytes) -> Bool {
        guard payload.count >= 4, let base = payload.baseAddress else { return false }
        return UInt32(bigEndian: base.loadUnaligned(as: UInt32.self)) == UInt32(BasicDeliver.classID) << 16 | UInt32(BasicDeliver.methodID)
    }

    /// A basic.deliver's arguments (`isDeliver(payload:)` said it is one), decoded and checked as
    /// `decode(type:channel:payload:)` does, its strings written straight into the caller's fields
    /// (a pooled message's): the consumer's hot path, with no `Method` or `BasicDeliver` value and
    /// no copy of a string (a `Bytes` copied out of memory goes through a generic value witness).
    /// On a throw the fields may hold part of the frame.
    public static func decodeDeliver(payload: Bytes, consumerTag: inout Bytes, exchange: inout Bytes,
                                     routingKey: inout Bytes) throws -> (deliveryTag: UInt64, redelivered: Bool) {
        var reader = ByteReader(payload)
        _ = try reader.readUInt32("method ids") // class 60, method 60: checked by isDeliver
        consumerTag = try reader.readShortString("basic.deliver consumer-tag")
        let deliveryTag = try reader.readUInt64("basic.deliver delivery-tag")
        let redelivered = try reader.readUInt8("basic.deliver redelivered") & 1 != 0
        exchange = try reader.readShortString("basic.deliver exchange")
        routingKey = try reader.readShortString("basic.deliver routing-key")
        try reader.expectEnd("basic.deliver")
        return (deliveryTag, redelivered)
    }

    public static func decode(type: UInt8, channel: UInt16, payload: Bytes) throws -> Frame {
        switch type {
        case AMQPConstants.frameMethod:
            var reader = ByteReader(payload)
            let classID = try reader.readUInt16("method class id")
            let methodID = try reader.readUInt16("method id")
            return .method(channel: channel, try Method.decode(classID: classID, methodID: methodID, from: &reader))
        case AMQPConstants.frameHeader:
            var reader = ByteReader(payload)
            return .header(channel: channel, try ContentHeader.decoded(from: &reader))
        case AMQPConstants.frameBody:
            return .body(channel: channel, payload)
        case AMQPConstants.frameHeartbeat:
            guard payload.isEmpty else { throw WireError.trailingBytes(context: "heartbeat frame", count: payload.count) }
            return .heartbeat
        default:
            throw WireError.unknownFrameType(type)
        }
    }
}

/// The 8 bytes a client sends first: "AMQP" 0 0 9 1.
/// A computed value, not a stored global: a global is initialized on first use through swift_once,
/// which ThreadSanitizer reports as a race when two connections start at once.
public var protocolHeader: [UInt8] { [0x41, 0x4D, 0x51, 0x50, 0, 0, 9, 1] }

/// Size of a frame's header (type, channel, size) plus its end octet.
public let frameOverhead = 8

extension ByteWriter {
    /// Writes a whole frame whose payload `body` writes; the size is patched in afterwards.
    public mutating func writeFrame(type: UInt8, channel: UInt16, _ body: (inout ByteWriter) throws -> Void) throws {
        let sizeOffset = count + 3
        append(exactly: 7) { c in
            c.uint8(type)
            c.uint16(channel)
            c.uint32(0)
        }
        try body(&self)
        let size = count - sizeOffset - 4
        guard size <= Int(UInt32.max) else { throw WireError.valueTooLarge(context: "frame payload") }
        patchUInt32(UInt32(size), at: sizeOffset) // checked just above
        writeUInt8(AMQPConstants.frameEnd)
    }

    public mutating func writeMethodFrame(channel: UInt16, _ method: Method) throws {
        if let size = method.fastArgumentsSize {
            // Header, ids, arguments and end octet in one growth of the buffer.
            append(exactly: 7 + 4 + size + 1) { c in
                c.uint8(AMQPConstants.frameMethod)
                c.uint16(channel)
                c.uint32(UInt32(4 + size))
                c.uint16(method.classID)
                c.uint16(method.methodID)
                method.writeFastArguments(to: &c)
                c.uint8(AMQPConstants.frameEnd)
            }
            return
        }
        try writeFrame(type: AMQPConstants.frameMethod, channel: channel) { try method.encode(into: &$0) }
    }

    public mutating func writeHeartbeatFrame() {
        append(exactly: 8) { c in
            c.uint8(AMQPConstants.frameHeartbeat)
            c.uint16(0)
            c.uint32(0)
            c.uint8(AMQPConstants.frameEnd)
        }
    }

    /// A content header frame.
    public mutating func writeHeaderFrame(channel: UInt16, _ header: ContentHeader) throws {
        try writeFrame(type: AMQPConstants.frameHeader, channel: channel) { header.encode(into: &$0) }
    }

    /// A content header frame of `properties`, encoded straight into the buffer.
    public mutating func writeHeaderFrame(channel: UInt16, classID: UInt16, bodySize: UInt64, properties: BasicProperties) throws {
        if let size = properties.fastSize {
            append(exactly: 7 + 12 + size + 1) { c in
                c.headerFrame(channel: channel, classID: classID, bodySize: bodySize, properties: properties, propertiesSize: size)
            }
            return
        }
        try writeFrame(type: AMQPConstants.frameHeader, channel: channel) { writer in
            writer.append(exactly: 12) { c in
                c.uint16(classID)
                c.uint16(0)
                c.uint64(bodySize)
            }
            try properties.encode(into: &writer)
        }
    }

    /// A body frame carrying `body` (at most frame_max - 8 bytes: the caller splits).
    public mutating func writeBodyFrame(channel: UInt16, _ body: UnsafeRawBufferPointer) {
        // Small bodies go out with their frame header in one growth; large ones are copied once.
        if body.count <= Self.inlineBodyLimit {
            append(exactly: 8 + body.count) { c in c.bodyFrame(channel: channel, body) }
            return
        }
        append(exactly: 7) { c in
            c.uint8(AMQPConstants.frameBody)
            c.uint16(channel)
            c.uint32(UInt32(truncatingIfNeeded: body.count))
        }
        writeBytes(body)
        writeUInt8(AMQPConstants.frameEnd)
    }

    /// `body` as body frames of at most `chunk` bytes each.
    private mutating func writeBodyFrames(channel: UInt16, _ body: UnsafeRawBufferPointer, chunk: Int) {
        var start = 0
        while start < body.count {
            let end = min(start + chunk, body.count)
            writeBodyFrame(channel: channel, UnsafeRawBufferPointer(rebasing: body[start..<end]))
            start = end
        }
    }

    /// basic.publish straight from the caller's memory — method, content header and body frames —
    /// with no intermediate values: the publish hot path. Exchange and routing key are short
    /// strings (at most 255 bytes, else `valueTooLarge` and nothing written).
    public mutating func writePublish(channel: UInt16, exchange: UnsafeRawBufferPointer, routingKey: UnsafeRawBufferPointer,
                                      mandatory: Bool, immediate: Bool, properties: borrowing BasicProperties,
                                      body: UnsafeRawBufferPointer, frameMax: UInt32) throws {
        guard exchange.count <= 255 else { throw WireError.valueTooLarge(context: "basic.publish exchange") }
        guard routingKey.count <= 255 else { throw WireError.valueTooLarge(context: "basic.publish routing-key") }
        let chunk = Int(frameMax) - frameOverhead
        guard chunk > 0 else { throw WireError.valueTooLarge(context: "frame_max") }
        let methodFrame = ByteCursor.publishFrameSize(exchange: exchange, routingKey: routingKey)
        let bodySize = UInt64(body.count)
        if let propertiesSize = properties.fastSize, body.count <= min(chunk, Self.inlineBodyLimit) {
            // A small message's three frames in one growth of the buffer.
            let headerFrame = 7 + 12 + propertiesSize + 1
            let bodyFrame = body.isEmpty ? 0 : 8 + body.count
            append(exactly: methodFrame + headerFrame + bodyFrame) { c in
                c.publishFrame(channel: channel, exchange: exchange, routingKey: routingKey, mandatory: mandatory, immediate: immediate)
                c.headerFrame(channel: channel, classID: BasicPublish.classID, bodySize: bodySize, properties: properties,
                              propertiesSize: propertiesSize)
                if !body.isEmpty { c.bodyFrame(channel: channel, body) }
            }
            return
        }
        append(exactly: methodFrame) { c in
            c.publishFrame(channel: channel, exchange: exchange, routingKey: routingKey, mandatory: mandatory, immediate: immediate)
        }
        try writeHeaderFrame(channel: channel, classID: BasicPublish.classID, bodySize: bodySize, properties: properties)
        writeBodyFrames(channel: channel, body, chunk: chunk)
    }

    /// Bodies up to this size are assembled with their frame in stack scratch space and appended
    /// once; larger ones are appended straight from the caller's memory.
    static let inlineBodyLimit = 4096

    /// Writes method, content header and body frames of a content-carrying method; the body is
    /// split into frames of at most `frameMax - 8` bytes.
    public mutating func writeContent(channel: UInt16, method: Method, properties: BasicProperties,
                                      body: UnsafeRawBufferPointer, frameMax: UInt32) throws {
        let chunk = Int(frameMax) - frameOverhead
        guard chunk > 0 else { throw WireError.valueTooLarge(context: "frame_max") }
        try writeMethodFrame(channel: channel, method)
        try writeHeaderFrame(channel: channel, classID: method.classID, bodySize: UInt64(body.count), properties: properties)
        writeBodyFrames(channel: channel, body, chunk: chunk)
    }
}

extension ByteCursor {
    /// The size of a basic.publish method frame (exchange and routing key at most 255 bytes each).
    static func publishFrameSize(exchange: UnsafeRawBufferPointer, routingKey: UnsafeRawBufferPointer) -> Int {
        7 + 4 + 2 + 1 + exchange.count + 1 + routingKey.count + 1 + 1
    }

    /// A basic.publish method frame; `publishFrameSize` bytes must be set aside.
    mutating func publishFrame(channel: UInt16, exchange: UnsafeRawBufferPointer, routingKey: UnsafeRawBufferPointer,
                               mandatory: Bool, immediate: Bool) {
        uint8(AMQPConstants.frameMethod)
        uint16(channel)
        uint32(UInt32(truncatingIfNeeded: Self.publishFrameSize(exchange: exchange, routingKey: routingKey) - 8))
        uint16(BasicPublish.classID)
        uint16(BasicPublish.methodID)
        uint16(0) // ticket
        uint8(UInt8(truncatingIfNeeded: exchange.count))
        bytes(exchange)
        uint8(UInt8(truncatingIfNeeded: routingKey.count))
        bytes(routingKey)
        uint8((mandatory ? 1 : 0) | (immediate ? 2 : 0))
        uint8(AMQPConstants.frameEnd)
    }

    /// A content header frame whose properties encode in `propertiesSize` bytes (`fastSize`).
    mutating func headerFrame(channel: UInt16, classID: UInt16, bodySize: UInt64, properties: borrowing BasicProperties,
                              propertiesSize: Int) {
        uint8(AMQPConstants.frameHeader)
        uint16(channel)
        uint32(UInt32(truncatingIfNeeded: 12 + propertiesSize))
        uint16(classID)
        uint16(0)
        uint64(bodySize)
        properties.writeFast(to: &self)
        uint8(AMQPConstants.frameEnd)
    }

    /// A body frame of `body` (which the caller sized to the frame limit).
    mutating func bodyFrame(channel: UInt16, _ body: UnsafeRawBufferPointer) {
        uint8(AMQPConstants.frameBody)
        uint16(channel)
        uint32(UInt32(truncatingIfNeeded: body.count))
        bytes(body)
        uint8(AMQPConstants.frameEnd)
    }
}
