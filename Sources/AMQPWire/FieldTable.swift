/// One typed value of a field table or array. The cases are the type tags RabbitMQ accepts, plus
/// `uint64` ('L'), which is decoded (librabbitmq's meaning) and sent as 'l' when it fits.
public enum FieldValue: Equatable, Sendable {
    case bool(Bool)
    case int8(Int8)
    case uint8(UInt8)
    case int16(Int16)
    case uint16(UInt16)
    case int32(Int32)
    case uint32(UInt32)
    case int64(Int64)
    case uint64(UInt64)
    case float(Float)
    case double(Double)
    case decimal(scale: UInt8, value: UInt32)
    case longString(Bytes)
    case byteArray(Bytes)
    case array([FieldValue])
    case timestamp(UInt64)
    case table(FieldTable)
    case void
}

/// A field table: entries in wire order (AMQP keys are unique, but order is kept for fidelity).
public struct FieldTable: Equatable, Sendable {
    /// How deep tables and arrays may nest before decoding refuses the input.
    public static let maxDepth = 64

    public struct Entry: Equatable, Sendable {
        public var key: Bytes
        public var value: FieldValue
        public init(key: Bytes, value: FieldValue) {
            self.key = key
            self.value = value
        }
    }

    public var entries: [Entry]

    public init(_ entries: [Entry] = []) { self.entries = entries }

    public var isEmpty: Bool { entries.isEmpty }

    /// The value of the first entry named `key`.
    public subscript(key: String) -> FieldValue? {
        let wanted = Bytes(key)
        return entries.first { $0.key == wanted }?.value
    }
}

extension FieldTable: ExpressibleByDictionaryLiteral {
    public init(dictionaryLiteral elements: (String, FieldValue)...) {
        self.init(elements.map { Entry(key: Bytes($0.0), value: $0.1) })
    }
}

// MARK: - Decoding

extension ByteReader {
    /// A field table: a 32-bit byte length, then key/value pairs.
    public mutating func readTable(depth: Int = 0) throws -> FieldTable {
        guard depth < FieldTable.maxDepth else { throw WireError.nestingTooDeep }
        let bytes = try readLongString("field table")
        var inner = ByteReader(bytes)
        var entries: [FieldTable.Entry] = []
        // One allocation for a typical table (an entry takes at least 2 bytes, usually 8 or more)
        // instead of one per doubling; the guess is capped, so a hostile length costs nothing extra.
        if inner.remaining > 0 { entries.reserveCapacity(Swift.min(inner.remaining / 8 + 1, 32)) }
        while inner.remaining > 0 {
            let key = try inner.readShortString("field table key")
            let value = try inner.readFieldValue(depth: depth + 1)
            entries.append(FieldTable.Entry(key: key, value: value))
        }
        return FieldTable(entries)
    }

    /// A field array: a 32-bit byte length, then values.
    public mutating func readFieldArray(depth: Int) throws -> [FieldValue] {
        guard depth < FieldTable.maxDepth else { throw WireError.nestingTooDeep }
        let bytes = try readLongString("field array")
        var inner = ByteReader(bytes)
        var values: [FieldValue] = []
        if inner.remaining > 0 { values.reserveCapacity(Swift.min(inner.remaining / 5 + 1, 32)) }
        while inner.remaining > 0 {
            values.append(try inner.readFieldValue(depth: depth + 1))
        }
        return values
    }

    /// One tagged value.
    public mutating func readFieldValue(depth: Int) throws -> FieldValue {
        let tag = try readUInt8("field type tag")
        switch tag {
        case UInt8(ascii: "t"): return .bool(try readUInt8("bool") != 0)
        case UInt8(ascii: "b"): return .int8(Int8(bitPattern: try readUInt8("int8")))
        case UInt8(ascii: "B"): return .uint8(try readUInt8("uint8"))
        case UInt8(ascii: "s"): return .int16(Int16(bitPattern: try readUInt16("int16")))
        case UInt8(ascii: "u"): return .uint16(try readUInt16("uint16"))
        case UInt8(ascii: "I"): return .int32(Int32(bitPattern: try readUInt32("int32")))
        case UInt8(ascii: "i"): return .uint32(try readUInt32("uint32"))
        case UInt8(ascii: "l"): return .int64(Int64(bitPattern: try readUInt64("int64")))
        case UInt8(ascii: "L"): return .uint64(try readUInt64("uint64"))
        case UInt8(ascii: "f"): return .float(Float(bitPattern: try readUInt32("float")))
        case UInt8(ascii: "d"): return .double(Double(bitPattern: try readUInt64("double")))
        case UInt8(ascii: "D"):
            let scale = try readUInt8("decimal scale")
            return .decimal(scale: scale, value: try readUInt32("decimal value"))
        case UInt8(ascii: "S"): return .longString(try readLongString("long string value"))
        case UInt8(ascii: "x"): return .byteArray(try readLongString("byte array value"))
        case UInt8(ascii: "A"): return .array(try readFieldArray(depth: depth))
        case UInt8(ascii: "T"): return .timestamp(try readUInt64("timestamp"))
        case UInt8(ascii: "F"): return .table(try readTable(depth: depth))
        case UInt8(ascii: "V"): return .void
        default: throw WireError.unknownFieldType(tag)
        }
    }
}

// MARK: - Encoding

extension ByteWriter {
    /// A field table; its length is patched in after the entries are written.
    public mutating func writeTable(_ table: FieldTable, depth: Int = 0) throws {
        guard depth < FieldTable.maxDepth else { throw WireError.nestingTooDeep }
        let start = count
        writeUInt32(0)
        for entry in table.entries {
            try writeShortString(entry.key, "field table key")
            try writeFieldValue(entry.value, depth: depth + 1)
        }
        try patchLength(from: start, context: "field table")
    }

    public mutating func writeFieldArray(_ values: [FieldValue], depth: Int) throws {
        guard depth < FieldTable.maxDepth else { throw WireError.nestingTooDeep }
        let start = count
        writeUInt32(0)
        for value in values { try writeFieldValue(value, depth: depth + 1) }
        try patchLength(from: start, context: "field array")
    }

    private mutating func patchLength(from start: Int, context: String) throws {
        let length = count - start - 4
        guard length <= Int(UInt32.max) else { throw WireError.valueTooLarge(context: context) }
        patchUInt32(UInt32(length), at: start)
    }

    public mutating func writeFieldValue(_ value: FieldValue, depth: Int) throws {
        switch value {
        case .bool(let v): writeUInt8(UInt8(ascii: "t")); writeUInt8(v ? 1 : 0)
        case .int8(let v): writeUInt8(UInt8(ascii: "b")); writeUInt8(UInt8(bitPattern: v))
        case .uint8(let v): writeUInt8(UInt8(ascii: "B")); writeUInt8(v)
        case .int16(let v): writeUInt8(UInt8(ascii: "s")); writeUInt16(UInt16(bitPattern: v))
        case .uint16(let v): writeUInt8(UInt8(ascii: "u")); writeUInt16(v)
        case .int32(let v): writeUInt8(UInt8(ascii: "I")); writeUInt32(UInt32(bitPattern: v))
        case .uint32(let v): writeUInt8(UInt8(ascii: "i")); writeUInt32(v)
        case .int64(let v): writeUInt8(UInt8(ascii: "l")); writeUInt64(UInt64(bitPattern: v))
        case .uint64(let v):
            // RabbitMQ rejects 'L'; a value that fits a signed 64-bit integer goes out as 'l'.
            guard v <= UInt64(Int64.max) else { throw WireError.valueTooLarge(context: "uint64 field value") }
            writeUInt8(UInt8(ascii: "l")); writeUInt64(v)
        case .float(let v): writeUInt8(UInt8(ascii: "f")); writeUInt32(v.bitPattern)
        case .double(let v): writeUInt8(UInt8(ascii: "d")); writeUInt64(v.bitPattern)
        case .decimal(let scale, let v): writeUInt8(UInt8(ascii: "D")); writeUInt8(scale); writeUInt32(v)
        case .longString(let v): writeUInt8(UInt8(ascii: "S")); try writeLongString(v, "long string value")
        case .byteArray(let v): writeUInt8(UInt8(ascii: "x")); try writeLongString(v, "byte array value")
        case .array(let v): writeUInt8(UInt8(ascii: "A")); try writeFieldArray(v, depth: depth)
        case .timestamp(let v): writeUInt8(UInt8(ascii: "T")); writeUInt64(v)
        case .table(let v): writeUInt8(UInt8(ascii: "F")); try writeTable(v, depth: depth)
        case .void: writeUInt8(UInt8(ascii: "V"))
        }
    }
}
