/// Appends big-endian AMQP primitives to a growable buffer.
public struct ByteWriter {
    public var buffer: [UInt8]

    public init(capacity: Int = 256) {
        buffer = []
        buffer.reserveCapacity(capacity)
    }

    public var count: Int { buffer.count }

    @inline(__always) public mutating func writeUInt8(_ value: UInt8) { buffer.append(value) }

    @inline(__always) public mutating func writeUInt16(_ value: UInt16) {
        append(exactly: 2) { $0.uint16(value) }
    }

    @inline(__always) public mutating func writeUInt32(_ value: UInt32) {
        append(exactly: 4) { $0.uint32(value) }
    }

    @inline(__always) public mutating func writeUInt64(_ value: UInt64) {
        append(exactly: 8) { $0.uint64(value) }
    }

    public mutating func writeBytes(_ bytes: Bytes) {
        bytes.withUnsafeBytes { buffer.append(contentsOf: $0) }
    }

    public mutating func writeBytes(_ bytes: UnsafeRawBufferPointer) {
        buffer.append(contentsOf: bytes)
    }

    /// A short string; more than 255 bytes is an error naming `context`.
    public mutating func writeShortString(_ bytes: Bytes, _ context: @autoclosure () -> String = "shortstr") throws {
        guard bytes.count <= 255 else { throw WireError.valueTooLarge(context: context()) }
        append(exactly: 1 + bytes.count) { $0.shortString(bytes) }
    }

    /// A long string; more than 4 GiB - 1 bytes is an error naming `context`.
    public mutating func writeLongString(_ bytes: Bytes, _ context: @autoclosure () -> String = "longstr") throws {
        guard bytes.count <= Int(UInt32.max) else { throw WireError.valueTooLarge(context: context()) }
        writeUInt32(UInt32(bytes.count))
        writeBytes(bytes)
    }

    /// Overwrites a 32-bit value written earlier at `offset` (for sizes known only afterwards).
    public mutating func patchUInt32(_ value: UInt32, at offset: Int) {
        guard offset >= 0, offset <= buffer.count - 4 else { return }
        buffer.withUnsafeMutableBytes { raw in
            raw.storeBytes(of: value.bigEndian, toByteOffset: offset, as: UInt32.self)
        }
    }

    /// Appends the `count` bytes that `body` writes through a cursor, with one append to the
    /// buffer instead of one per value (the bytes are assembled in stack scratch space). The cursor
    /// cannot write past `count` bytes; only the bytes it wrote are appended.
    @inline(__always)
    public mutating func append(exactly count: Int, _ body: (inout ByteCursor) -> Void) {
        guard count > 0 else { return }
        withUnsafeTemporaryAllocation(byteCount: count, alignment: 8) { scratch in
            guard let base = scratch.baseAddress else { return }
            var cursor = ByteCursor(base: base, capacity: count)
            body(&cursor)
            buffer.append(contentsOf: UnsafeRawBufferPointer(start: base, count: cursor.offset))
        }
    }
}

/// Writes big-endian values into memory set aside by `ByteWriter.append(exactly:_:)`; a write that
/// would pass the end is dropped (the generated encoders size their writes exactly).
public struct ByteCursor {
    @usableFromInline let base: UnsafeMutableRawPointer
    @usableFromInline let capacity: Int
    public private(set) var offset = 0

    @usableFromInline init(base: UnsafeMutableRawPointer, capacity: Int) {
        self.base = base
        self.capacity = capacity
    }

    @inline(__always) public mutating func uint8(_ v: UInt8) {
        guard offset < capacity else { return }
        base.storeBytes(of: v, toByteOffset: offset, as: UInt8.self)
        offset += 1
    }

    @inline(__always) public mutating func uint16(_ v: UInt16) {
        guard capacity - offset >= 2 else { return }
        base.storeBytes(of: v.bigEndian, toByteOffset: offset, as: UInt16.self)
        offset += 2
    }

    @inline(__always) public mutating func uint32(_ v: UInt32) {
        guard capacity - offset >= 4 else { return }
        base.storeBytes(of: v.bigEndian, toByteOffset: offset, as: UInt32.self)
        offset += 4
    }

    @inline(__always) public mutating func uint64(_ v: UInt64) {
        guard capacity - offset >= 8 else { return }
        base.storeBytes(of: v.bigEndian, toByteOffset: offset, as: UInt64.self)
        offset += 8
    }

    @inline(__always) public mutating func bytes(_ b: Bytes) {
        guard b.count <= capacity - offset else { return }
        if let source = b.baseAddress { (base + offset).copyMemory(from: source, byteCount: b.count) }
        offset += b.count
    }

    @inline(__always) public mutating func bytes(_ b: UnsafeRawBufferPointer) {
        guard b.count <= capacity - offset else { return }
        if let source = b.baseAddress { (base + offset).copyMemory(from: source, byteCount: b.count) }
        offset += b.count
    }

    /// A short string whose length the caller checked (at most 255).
    @inline(__always) public mutating func shortString(_ b: Bytes) {
        guard b.count <= 255, 1 + b.count <= capacity - offset else { return }
        uint8(UInt8(truncatingIfNeeded: b.count))
        bytes(b)
    }
}
