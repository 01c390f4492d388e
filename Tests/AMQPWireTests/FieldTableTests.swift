import Testing
@testable import AMQPWire

private func roundTrip(_ table: FieldTable) throws -> FieldTable {
    var writer = ByteWriter()
    try writer.writeTable(table)
    var reader = ByteReader(Bytes(writer.buffer))
    let decoded = try reader.readTable()
    try reader.expectEnd("table")
    return decoded
}

@Suite struct FieldTableTests {
    @Test func everyEncodableTypeRoundTrips() throws {
        let table: FieldTable = [
            "bool": .bool(true), "i8": .int8(-5), "u8": .uint8(250), "i16": .int16(-300), "u16": .uint16(60000),
            "i32": .int32(-70000), "u32": .uint32(4_000_000_000), "i64": .int64(-1 << 40), "f32": .float(1.5),
            "f64": .double(-2.25), "dec": .decimal(scale: 2, value: 12345), "str": .longString("héllo"),
            "bytes": .byteArray(Bytes([0, 255, 1])), "array": .array([.int32(1), .longString("two"), .array([])]),
            "ts": .timestamp(1_700_000_000), "nested": .table(["inner": .bool(false)]), "void": .void,
        ]
        #expect(try roundTrip(table) == table)
    }

    @Test func uint64IsSentAsSignedAndRefusedWhenTooLarge() throws {
        var writer = ByteWriter()
        try writer.writeFieldValue(.uint64(7), depth: 0)
        #expect(writer.buffer.first == UInt8(ascii: "l"))
        #expect(throws: WireError.valueTooLarge(context: "uint64 field value")) {
            var w = ByteWriter()
            try w.writeFieldValue(.uint64(UInt64.max), depth: 0)
        }
    }

    @Test func capitalLDecodesAsUInt64() throws {
        var reader = ByteReader(Bytes([UInt8(ascii: "L"), 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF]))
        #expect(try reader.readFieldValue(depth: 0) == .uint64(UInt64.max))
    }

    @Test func unknownTagIsATypedError() throws {
        // Table of 2 bytes: key "" then tag 'Z'.
        var reader = ByteReader(Bytes([0, 0, 0, 2, 0, UInt8(ascii: "Z")]))
        #expect(throws: WireError.unknownFieldType(UInt8(ascii: "Z"))) { try reader.readTable() }
    }

    @Test func lengthPastTheEndIsTruncation() throws {
        var reader = ByteReader(Bytes([0, 0, 0, 50, 1, 2]))
        #expect(throws: WireError.truncated(context: "field table")) { try reader.readTable() }
    }

    @Test func deepNestingIsRefused() throws {
        var value = FieldValue.void
        for _ in 0..<(FieldTable.maxDepth + 2) { value = .array([value]) }
        var writer = ByteWriter()
        #expect(throws: WireError.nestingTooDeep) { try writer.writeFieldValue(value, depth: 0) }
        // Hand-build the same nesting on the wire: each level is 'A' + 4-byte length.
        var bytes: [UInt8] = [UInt8(ascii: "V")]
        for _ in 0..<(FieldTable.maxDepth + 2) {
            let n = UInt32(bytes.count)
            bytes = [UInt8(ascii: "A"), UInt8(n >> 24), UInt8((n >> 16) & 0xFF), UInt8((n >> 8) & 0xFF), UInt8(n & 0xFF)] + bytes
        }
        var reader = ByteReader(Bytes(bytes))
        #expect(throws: WireError.nestingTooDeep) { try reader.readFieldValue(depth: 0) }
    }

    @Test func rabbitmqCTableVectorDecodesAndReEncodesByteForByte() throws {
        let directory = sharedDirectory() + "/vectors/rabbitmq-c-tables/"
        guard let data = readFile(directory + "test_tables.pre_encoded_table.bin"),
              let json = readFile(directory + "test_tables.pre_encoded_table.json") else {
            Issue.record("the shared vectors in \(directory) are missing: this test did not run")
            return
        }
        var reader = ByteReader(Bytes(data))
        let table = try reader.readTable()
        try reader.expectEnd("vector")
        #expect(table == (try vectorTable(json)))
        var writer = ByteWriter()
        try writer.writeTable(table)
        #expect(writer.buffer == data)
    }
}
