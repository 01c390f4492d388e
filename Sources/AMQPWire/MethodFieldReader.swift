/// Takes a method's arguments, in order, from a list of field values (the C codec's model; see
/// `Method.fields`), checking each value's kind against the spec's.
struct MethodFieldReader {
    private let values: [FieldValue]
    private var index = 0

    init(_ values: [FieldValue]) { self.values = values }

    private mutating func next(_ name: String, _ kind: String) throws -> FieldValue {
        guard index < values.count else {
            throw WireError.wrongField(context: "argument \(index + 1) (\(name), \(kind)) is missing")
        }
        defer { index += 1 }
        return values[index]
    }

    private func mismatch(_ name: String, _ kind: String) -> WireError {
        .wrongField(context: "argument \(index) (\(name)) must be a \(kind)")
    }

    mutating func bit(_ name: String) throws -> Bool {
        guard case .bool(let v) = try next(name, "bit") else { throw mismatch(name, "bit (bool)") }
        return v
    }

    mutating func octet(_ name: String) throws -> UInt8 {
        guard case .uint8(let v) = try next(name, "octet") else { throw mismatch(name, "octet (uint8)") }
        return v
    }

    mutating func short(_ name: String) throws -> UInt16 {
        guard case .uint16(let v) = try next(name, "short") else { throw mismatch(name, "short (uint16)") }
        return v
    }

    mutating func long(_ name: String) throws -> UInt32 {
        guard case .uint32(let v) = try next(name, "long") else { throw mismatch(name, "long (uint32)") }
        return v
    }

    mutating func longlong(_ name: String) throws -> UInt64 {
        guard case .uint64(let v) = try next(name, "longlong") else { throw mismatch(name, "longlong (uint64)") }
        return v
    }

    mutating func timestamp(_ name: String) throws -> UInt64 {
        guard case .timestamp(let v) = try next(name, "timestamp") else { throw mismatch(name, "timestamp") }
        return v
    }

    mutating func shortstr(_ name: String) throws -> Bytes {
        guard case .longString(let v) = try next(name, "shortstr") else { throw mismatch(name, "shortstr (string)") }
        guard v.count <= 255 else { throw WireError.valueTooLarge(context: name) }
        return v
    }

    mutating func longstr(_ name: String) throws -> Bytes {
        guard case .longString(let v) = try next(name, "longstr") else { throw mismatch(name, "longstr (string)") }
        return v
    }

    mutating func table(_ name: String) throws -> FieldTable {
        guard case .table(let v) = try next(name, "table") else { throw mismatch(name, "table") }
        return v
    }

    func expectEnd() throws {
        guard index == values.count else {
            throw WireError.wrongField(context: "\(values.count - index) values more than the method's \(index) arguments")
        }
    }
}
