/// The content header frame's payload: class, body size and properties.
public struct ContentHeader: Equatable, Sendable {
    public var classID: UInt16
    public var bodySize: UInt64
    public var properties: BasicProperties

    public init(classID: UInt16 = BasicPublish.classID, bodySize: UInt64, properties: BasicProperties) {
        self.classID = classID
        self.bodySize = bodySize
        self.properties = properties
    }

    public init(from reader: inout ByteReader) throws {
        classID = try reader.readUInt16("content header class")
        guard classID == BasicPublish.classID else {
            throw WireError.invalidContentHeader("class \(classID) carries no content")
        }
        _ = try reader.readUInt16("content header weight") // always 0, meaning nothing
        bodySize = try reader.readUInt64("content header body size")
        properties = try BasicProperties(from: &reader)
        try reader.expectEnd("content header")
    }

    public func encode(into writer: inout ByteWriter) throws {
        writer.writeUInt16(classID)
        writer.writeUInt16(0)
        writer.writeUInt64(bodySize)
        try properties.encode(into: &writer)
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
    public static func decode(type: UInt8, channel: UInt16, payload: Bytes) throws -> Frame {
        var reader = ByteReader(payload)
        switch type {
        case AMQPConstants.frameMethod:
            let classID = try reader.readUInt16("method class id")
            let methodID = try reader.readUInt16("method id")
            return .method(channel: channel, try Method.decode(classID: classID, methodID: methodID, from: &reader))
        case AMQPConstants.frameHeader:
            return .header(channel: channel, try ContentHeader(from: &reader))
        case AMQPConstants.frameBody:
            return .body(channel: channel, payload)
        case AMQPConstants.frameHeartbeat:
            try reader.expectEnd("heartbeat frame")
            return .heartbeat
        default:
            throw WireError.unknownFrameType(type)
        }
    }
}

/// The 8 bytes a client sends first: "AMQP" 0 0 9 1.
public let protocolHeader: [UInt8] = [0x41, 0x4D, 0x51, 0x50, 0, 0, 9, 1]

/// Size of a frame's header (type, channel, size) plus its end octet.
public let frameOverhead = 8

extension ByteWriter {
    /// Writes a whole frame whose payload `body` writes; the size is patched in afterwards.
    public mutating func writeFrame(type: UInt8, channel: UInt16, _ body: (inout ByteWriter) throws -> Void) throws {
        writeUInt8(type)
        writeUInt16(channel)
        let sizeOffset = count
        writeUInt32(0)
        try body(&self)
        let size = count - sizeOffset - 4
        guard size <= Int(UInt32.max) else { throw WireError.valueTooLarge(context: "frame payload") }
        patchUInt32(UInt32(size), at: sizeOffset)
        writeUInt8(AMQPConstants.frameEnd)
    }

    public mutating func writeMethodFrame(channel: UInt16, _ method: Method) throws {
        try writeFrame(type: AMQPConstants.frameMethod, channel: channel) { try method.encode(into: &$0) }
    }

    public mutating func writeHeartbeatFrame() {
        writeUInt8(AMQPConstants.frameHeartbeat)
        writeUInt16(0)
        writeUInt32(0)
        writeUInt8(AMQPConstants.frameEnd)
    }

    /// Writes method, content header and body frames of a content-carrying method; the body is
    /// split into frames of at most `frameMax - 8` bytes.
    public mutating func writeContent(channel: UInt16, method: Method, properties: BasicProperties,
                                      body: UnsafeRawBufferPointer, frameMax: UInt32) throws {
        try writeMethodFrame(channel: channel, method)
        let header = ContentHeader(classID: method.classID, bodySize: UInt64(body.count), properties: properties)
        try writeFrame(type: AMQPConstants.frameHeader, channel: channel) { try header.encode(into: &$0) }
        let chunk = Int(frameMax) - frameOverhead
        guard chunk > 0 else { throw WireError.valueTooLarge(context: "frame_max") }
        var start = 0
        while start < body.count {
            let end = min(start + chunk, body.count)
            writeUInt8(AMQPConstants.frameBody)
            writeUInt16(channel)
            writeUInt32(UInt32(end - start))
            writeBytes(UnsafeRawBufferPointer(rebasing: body[start..<end]))
            writeUInt8(AMQPConstants.frameEnd)
            start = end
        }
    }
}
