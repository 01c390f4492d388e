import AMQPWire

// The JSON form of frames, tables and properties: docs/FRAME-JSON.md. The per-method parts are
// generated (Generated/MethodJSON.swift); this file holds the typed building blocks they use.

// MARK: - Writing

extension JSONOut {
    mutating func octet(_ v: UInt8) { number(v) }
    mutating func short(_ v: UInt16) { number(v) }
    mutating func long(_ v: UInt32) { number(v) }
    mutating func longlong(_ v: UInt64) { decimalString(v) }
    mutating func timestamp(_ v: UInt64) { decimalString(v) }
    mutating func bit(_ v: Bool) { bool(v) }
    mutating func shortstr(_ v: Bytes) { byteString(v) }
    mutating func longstr(_ v: Bytes) { byteString(v) }

    /// A table: [[key, tag, value], …] in wire order.
    mutating func table(_ t: FieldTable) {
        beginArray()
        for entry in t.entries {
            beginArray()
            byteString(entry.key)
            taggedValue(entry.value)
            endArray()
        }
        endArray()
    }

    /// The tag and the value of one field value, as two array elements.
    mutating func taggedValue(_ value: FieldValue) {
        switch value {
        case .bool(let v): string("t"); bool(v)
        case .int8(let v): string("b"); number(v)
        case .uint8(let v): string("B"); number(v)
        case .int16(let v): string("s"); number(v)
        case .uint16(let v): string("u"); number(v)
        case .int32(let v): string("I"); number(v)
        case .uint32(let v): string("i"); number(v)
        case .int64(let v): string("l"); decimalString(v)
        case .uint64(let v): string("L"); decimalString(v)
        case .float(let v): string("f"); hexBits(v.bitPattern)
        case .double(let v): string("d"); hexBits(v.bitPattern)
        case .decimal(let scale, let v):
            string("D")
            beginObject(); key("scale"); number(scale); key("value"); number(v); endObject()
        case .longString(let v): string("S"); byteString(v)
        case .byteArray(let v): string("x"); byteString(v)
        case .array(let items):
            string("A")
            beginArray()
            for item in items {
                beginArray()
                taggedValue(item)
                endArray()
            }
            endArray()
        case .timestamp(let v): string("T"); decimalString(v)
        case .table(let t): string("F"); table(t)
        case .void: string("V"); null()
        }
    }

    /// One frame as one JSON object (no newline).
    mutating func frame(_ frame: Frame) {
        beginObject()
        switch frame {
        case .method(let channel, let method):
            key("type"); string("method")
            key("channel"); number(channel)
            writeMethodJSON(method, to: &self)
        case .header(let channel, let header):
            key("type"); string("header")
            key("channel"); number(channel)
            key("class"); string(header.classID == BasicPublish.classID ? "basic" : String(header.classID))
            key("body-size"); decimalString(header.bodySize)
            key("properties")
            writePropertiesJSON((try? header.decodeProperties()) ?? BasicProperties(), to: &self) // checked by the caller
        case .body(let channel, let payload):
            key("type"); string("body")
            key("channel"); number(channel)
            key("hex")
            payload.withUnsafeBytes { hexString($0) }
        case .heartbeat:
            key("type"); string("heartbeat")
            key("channel"); number(0)
        }
        endObject()
    }
}

// MARK: - Reading

/// The members of one JSON object, taken one by one by name; `finish` refuses any left over, so a
/// misspelt field name is an error rather than silently a default.
struct FieldReader {
    let context: String
    private var members: [String: JSONValue] = [:]
    private var order: [String] = []

    init(_ value: JSONValue?, context: String) throws {
        self.context = context
        switch value {
        case nil, .null?: return
        case .object(let list)?:
            for (key, v) in list {
                guard members[key] == nil else { throw ToolError("\(context): member \"\(key)\" appears twice") }
                members[key] = v
                order.append(key)
            }
        case let other?:
            throw ToolError("\(context): expected an object, found \(other.kindName)")
        }
    }

    mutating func take(_ name: String) -> JSONValue? {
        members.removeValue(forKey: name)
    }

    func finish() throws {
        let left = order.filter { members[$0] != nil }
        guard left.isEmpty else {
            throw ToolError("\(context): unknown member(s) \(left.map { "\"\($0)\"" }.joined(separator: ", "))")
        }
    }

    private mutating func required(_ name: String) throws -> JSONValue {
        guard let v = take(name) else { throw ToolError("\(context): missing \"\(name)\" (it has no default)") }
        return v
    }

    private func where_(_ name: String) -> String { "\(context) \"\(name)\"" }

    mutating func octet(_ name: String, default d: UInt8? = nil) throws -> UInt8 {
        guard let v = take(name) else { return try d ?? { throw ToolError("\(where_(name)): missing (it has no default)") }() }
        return try jsonInteger(v, UInt8.self, where_(name))
    }
    mutating func short(_ name: String, default d: UInt16? = nil) throws -> UInt16 {
        guard let v = take(name) else { return try d ?? { throw ToolError("\(where_(name)): missing (it has no default)") }() }
        return try jsonInteger(v, UInt16.self, where_(name))
    }
    mutating func long(_ name: String, default d: UInt32? = nil) throws -> UInt32 {
        guard let v = take(name) else { return try d ?? { throw ToolError("\(where_(name)): missing (it has no default)") }() }
        return try jsonInteger(v, UInt32.self, where_(name))
    }
    mutating func longlong(_ name: String, default d: UInt64? = nil) throws -> UInt64 {
        guard let v = take(name) else { return try d ?? { throw ToolError("\(where_(name)): missing (it has no default)") }() }
        return try jsonInteger(v, UInt64.self, where_(name), stringAllowed: true)
    }
    mutating func timestamp(_ name: String, default d: UInt64? = nil) throws -> UInt64 {
        try longlong(name, default: d)
    }
    mutating func bit(_ name: String, default d: Bool? = nil) throws -> Bool {
        guard let v = take(name) else { return try d ?? { throw ToolError("\(where_(name)): missing (it has no default)") }() }
        guard case .bool(let b) = v else { throw ToolError("\(where_(name)): expected true or false, found \(v.kindName)") }
        return b
    }
    mutating func shortstr(_ name: String, default d: Bytes? = nil) throws -> Bytes {
        guard let v = take(name) else { return try d ?? { throw ToolError("\(where_(name)): missing (it has no default)") }() }
        return try jsonBytes(v, where_(name))
    }
    mutating func longstr(_ name: String, default d: Bytes? = nil) throws -> Bytes {
        try shortstr(name, default: d)
    }
    mutating func table(_ name: String, default d: FieldTable? = nil) throws -> FieldTable {
        guard let v = take(name) else { return try d ?? { throw ToolError("\(where_(name)): missing (it has no default)") }() }
        return try jsonTable(v, where_(name), depth: 0)
    }

    // Optional members (basic properties): absent means "property not set".
    mutating func optionalOctet(_ name: String) throws -> UInt8? {
        try take(name).map { try jsonInteger($0, UInt8.self, where_(name)) }
    }
    mutating func optionalTimestamp(_ name: String) throws -> UInt64? {
        try take(name).map { try jsonInteger($0, UInt64.self, where_(name), stringAllowed: true) }
    }
    mutating func optionalShortstr(_ name: String) throws -> Bytes? {
        try take(name).map { try jsonBytes($0, where_(name)) }
    }
    mutating func optionalTable(_ name: String) throws -> FieldTable? {
        try take(name).map { try jsonTable($0, where_(name), depth: 0) }
    }
}

/// An integer: a JSON number without fraction or exponent, or (for 64-bit values) a string of
/// decimal digits; out of range is an error, never a silent wrap.
func jsonInteger<T: FixedWidthInteger>(_ v: JSONValue, _ type: T.Type, _ context: String,
                                       stringAllowed: Bool = false) throws -> T {
    let text: String
    switch v {
    case .number(let t): text = t
    case .string(let b) where stringAllowed: text = String(decoding: b, as: UTF8.self)
    default:
        throw ToolError("\(context): expected \(stringAllowed ? "a decimal string or an integer" : "an integer"), found \(v.kindName)")
    }
    guard let n = T(text, radix: 10), !text.hasPrefix("+") else {
        throw ToolError("\(context): \(text) is not an integer in the range of \(T.self)")
    }
    return n
}

/// Bytes: a JSON string (its UTF-8), {"hex": "…"} or {"utf8": "…"}.
func jsonBytes(_ v: JSONValue, _ context: String) throws -> Bytes {
    switch v {
    case .string(let b): return Bytes(b)
    case .object(let members) where members.count == 1:
        let (key, value) = members[0]
        guard case .string(let text) = value else { throw ToolError("\(context): \"\(key)\" must be a string") }
        if key == "utf8" { return Bytes(text) }
        if key == "hex" {
            guard let bytes = decodeHex(text) else { throw ToolError("\(context): bad hex digits") }
            return Bytes(bytes)
        }
        throw ToolError("\(context): expected {\"hex\": …} or {\"utf8\": …}")
    default:
        throw ToolError("\(context): expected a string or {\"hex\": …}, found \(v.kindName)")
    }
}

/// Hex digits (either case; no separators) to bytes.
func decodeHex(_ text: [UInt8]) -> [UInt8]? {
    guard text.count % 2 == 0 else { return nil }
    var out: [UInt8] = []
    out.reserveCapacity(text.count / 2)
    var i = 0
    while i < text.count {
        guard let hi = hexDigitValue(text[i]), let lo = hexDigitValue(text[i + 1]) else { return nil }
        out.append(hi << 4 | lo)
        i += 2
    }
    return out
}

func jsonTable(_ v: JSONValue, _ context: String, depth: Int) throws -> FieldTable {
    guard depth < FieldTable.maxDepth else { throw ToolError("\(context): tables nested too deep") }
    guard case .array(let entries) = v else { throw ToolError("\(context): a table is an array of [key, tag, value], found \(v.kindName)") }
    var table = FieldTable()
    table.entries.reserveCapacity(entries.count)
    for (i, entry) in entries.enumerated() {
        guard case .array(let parts) = entry, parts.count == 3 else {
            throw ToolError("\(context) entry \(i): expected [key, tag, value]")
        }
        let key = try jsonBytes(parts[0], "\(context) entry \(i) key")
        guard key.count <= 255 else { throw ToolError("\(context) entry \(i): key longer than 255 bytes") }
        let value = try jsonFieldValue(tag: parts[1], parts[2], "\(context) entry \(i)", depth: depth)
        table.entries.append(FieldTable.Entry(key: key, value: value))
    }
    return table
}

func jsonFieldValue(tag tagValue: JSONValue, _ v: JSONValue, _ context: String, depth: Int) throws -> FieldValue {
    guard case .string(let tagBytes) = tagValue, tagBytes.count == 1 else {
        throw ToolError("\(context): the tag must be a one-letter string")
    }
    let tag = tagBytes[0]
    let context = "\(context) (\(Character(Unicode.Scalar(tag))))"
    func floatBits<T: FixedWidthInteger & UnsignedInteger>(_ type: T.Type) throws -> T {
        guard case .string(let hex) = v, hex.count == T.bitWidth / 4, let bytes = decodeHex(hex) else {
            throw ToolError("\(context): expected \(T.bitWidth / 4) hex digits of the IEEE-754 bits")
        }
        return bytes.reduce(T(0)) { $0 << 8 | T($1) }
    }
    switch tag {
    case UInt8(ascii: "t"):
        guard case .bool(let b) = v else { throw ToolError("\(context): expected true or false") }
        return .bool(b)
    case UInt8(ascii: "b"): return .int8(try jsonInteger(v, Int8.self, context))
    case UInt8(ascii: "B"): return .uint8(try jsonInteger(v, UInt8.self, context))
    case UInt8(ascii: "s"): return .int16(try jsonInteger(v, Int16.self, context))
    case UInt8(ascii: "u"): return .uint16(try jsonInteger(v, UInt16.self, context))
    case UInt8(ascii: "I"): return .int32(try jsonInteger(v, Int32.self, context))
    case UInt8(ascii: "i"): return .uint32(try jsonInteger(v, UInt32.self, context))
    case UInt8(ascii: "l"): return .int64(try jsonInteger(v, Int64.self, context, stringAllowed: true))
    case UInt8(ascii: "L"): return .uint64(try jsonInteger(v, UInt64.self, context, stringAllowed: true))
    case UInt8(ascii: "T"): return .timestamp(try jsonInteger(v, UInt64.self, context, stringAllowed: true))
    case UInt8(ascii: "f"): return .float(Float(bitPattern: try floatBits(UInt32.self)))
    case UInt8(ascii: "d"): return .double(Double(bitPattern: try floatBits(UInt64.self)))
    case UInt8(ascii: "D"):
        var fields = try FieldReader(v, context: context)
        let scale = try fields.octet("scale")
        let value = try fields.long("value")
        try fields.finish()
        return .decimal(scale: scale, value: value)
    case UInt8(ascii: "S"): return .longString(try jsonBytes(v, context))
    case UInt8(ascii: "x"): return .byteArray(try jsonBytes(v, context))
    case UInt8(ascii: "A"):
        guard depth + 1 < FieldTable.maxDepth else { throw ToolError("\(context): arrays nested too deep") }
        guard case .array(let items) = v else { throw ToolError("\(context): an array is [[tag, value], …]") }
        return .array(try items.enumerated().map { i, item in
            guard case .array(let parts) = item, parts.count == 2 else {
                throw ToolError("\(context) item \(i): expected [tag, value]")
            }
            return try jsonFieldValue(tag: parts[0], parts[1], "\(context) item \(i)", depth: depth + 1)
        })
    case UInt8(ascii: "F"): return .table(try jsonTable(v, context, depth: depth + 1))
    case UInt8(ascii: "V"):
        guard case .null = v else { throw ToolError("\(context): void takes null") }
        return .void
    default:
        throw ToolError("\(context): unknown field type tag")
    }
}

/// Encodes one JSON frame object (one input line) and appends the frame's bytes to `writer`.
func encodeFrame(_ value: JSONValue, into writer: inout ByteWriter) throws {
    var frame = try FieldReader(value, context: "frame")
    guard case .string(let typeBytes)? = frame.take("type") else { throw ToolError("frame: missing \"type\"") }
    let type = String(decoding: typeBytes, as: UTF8.self)
    let channel = try frame.short("channel", default: 0)
    switch type {
    case "method":
        guard case .string(let c)? = frame.take("class"), case .string(let m)? = frame.take("method") else {
            throw ToolError("method frame: \"class\" and \"method\" must be names, e.g. \"basic\", \"publish\"")
        }
        let className = String(decoding: c, as: UTF8.self), methodName = String(decoding: m, as: UTF8.self)
        var fields = try FieldReader(frame.take("fields"), context: "\(className).\(methodName) fields")
        let method = try methodFromJSON(className: className, methodName: methodName, fields: &fields)
        try fields.finish()
        try frame.finish()
        try writer.writeMethodFrame(channel: channel, method)
    case "header":
        if let c = frame.take("class") {
            guard case .string(let name) = c, name == Array("basic".utf8) else {
                throw ToolError("header frame: only class \"basic\" carries content")
            }
        }
        let bodySize = try frame.longlong("body-size")
        var props = try FieldReader(frame.take("properties"), context: "properties")
        let properties = try propertiesFromJSON(&props)
        try props.finish()
        try frame.finish()
        try writer.writeHeaderFrame(channel: channel, classID: BasicPublish.classID, bodySize: bodySize, properties: properties)
    case "body":
        guard case .string(let hex)? = frame.take("hex"), let payload = decodeHex(hex) else {
            throw ToolError("body frame: \"hex\" must hold the payload as hex digits")
        }
        try frame.finish()
        try writer.writeFrame(type: AMQPConstants.frameBody, channel: channel) { w in
            payload.withUnsafeBytes { w.writeBytes($0) }
        }
    case "heartbeat":
        try frame.finish()
        guard channel == 0 else { throw ToolError("heartbeat frame: the channel must be 0") }
        writer.writeHeartbeatFrame()
    case "protocol-header":
        let hex = frame.take("hex")
        try frame.finish()
        var bytes = protocolHeader
        if let hex {
            guard case .string(let text) = hex, let b = decodeHex(text), b.count == 8, b.starts(with: protocolHeader.prefix(4)) else {
                throw ToolError("protocol-header: \"hex\" must be 8 bytes starting with AMQP")
            }
            bytes = b
        }
        bytes.withUnsafeBytes { writer.writeBytes($0) }
    default:
        throw ToolError("frame: unknown type \"\(type)\" (method, header, body, heartbeat, protocol-header)")
    }
}
