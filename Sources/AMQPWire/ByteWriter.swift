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
        withUnsafeBytes(of: value.bigEndian) { buffer.append(contentsOf: $0) }
    }

    @inline(__always) public mutating func writeUInt32(_ value: UInt32) {
        withUnsafeBytes(of: value.bigEndian) { buffer.append(contentsOf: $0) }
    }

    @inline(__always) public mutating func writeUInt64(_ value: UInt64) {
        withUnsafeBytes(of: value.bigEndian) { buffer.append(contentsOf: $0) }
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
        writeUInt8(UInt8(bytes.count))
        writeBytes(bytes)
    }

    /// A long string; more than 4 GiB - 1 bytes is an error naming `context`.
    public mutating func writeLongString(_ bytes: Bytes, _ context: @autoclosure () -> String = "longstr") throws {
        guard bytes.count <= Int(UInt32.max) else { throw WireError.valueTooLarge(context: context()) }
        writeUInt32(UInt32(bytes.count))
        writeBytes(bytes)
    }

    /// Overwrites a 32-bit value written earlier at `offset` (for sizes known only afterwards).
    public mutating func patchUInt32(_ value: UInt32, at offset: Int) {
        guard offset >= 0, offset + 4 <= buffer.count else { return }
        let big = value.bigEndian
        withUnsafeBytes(of: big) { raw in
            for i in 0..<4 { buffer[offset + i] = raw[i] }
        }
    }
}
