/// Reads big-endian AMQP primitives from a `Bytes` view, bounds-checked: running past the end
/// throws `WireError.truncated`, never reads outside the view.
public struct ByteReader {
    public let bytes: Bytes
    public private(set) var position: Int = 0
    /// The view's first byte; valid while `bytes` (held above) keeps its storage alive. Reading
    /// through it touches no reference count.
    @usableFromInline let base: UnsafeRawPointer?

    public init(_ bytes: Bytes) {
        self.bytes = bytes
        base = bytes.baseAddress
    }

    public var remaining: Int { bytes.count - position }

    @inline(__always)
    private mutating func take(_ n: Int, _ context: @autoclosure () -> String) throws -> UnsafeRawPointer {
        guard n <= bytes.count - position, let base else {
            throw WireError.truncated(context: context())
        }
        defer { position += n }
        return base + position
    }

    @inline(__always)
    public mutating func readUInt8(_ context: @autoclosure () -> String = "octet") throws -> UInt8 {
        try take(1, context()).load(as: UInt8.self)
    }

    @inline(__always)
    public mutating func readUInt16(_ context: @autoclosure () -> String = "short") throws -> UInt16 {
        UInt16(bigEndian: try take(2, context()).loadUnaligned(as: UInt16.self))
    }

    @inline(__always)
    public mutating func readUInt32(_ context: @autoclosure () -> String = "long") throws -> UInt32 {
        UInt32(bigEndian: try take(4, context()).loadUnaligned(as: UInt32.self))
    }

    @inline(__always)
    public mutating func readUInt64(_ context: @autoclosure () -> String = "longlong") throws -> UInt64 {
        UInt64(bigEndian: try take(8, context()).loadUnaligned(as: UInt64.self))
    }

    /// `count` bytes as a view into the same storage (no copy).
    @inline(__always)
    public mutating func readBytes(count: Int, _ context: @autoclosure () -> String = "bytes") throws -> Bytes {
        guard count >= 0, count <= bytes.count - position else {
            throw WireError.truncated(context: context())
        }
        guard count > 0, let storage = bytes.storage else { return Bytes() }
        let slice = Bytes(storage: storage, offset: bytes.offset + position, count: count)
        position += count
        return slice
    }

    /// A short string: one length octet, then that many bytes.
    @inline(__always)
    public mutating func readShortString(_ context: @autoclosure () -> String = "shortstr") throws -> Bytes {
        let length = try readUInt8(context())
        return try readBytes(count: Int(length), context())
    }

    /// A long string: a 32-bit length, then that many bytes.
    @inline(__always)
    public mutating func readLongString(_ context: @autoclosure () -> String = "longstr") throws -> Bytes {
        let length = try readUInt32(context())
        return try readBytes(count: Int(length), context())
    }

    /// Throws when bytes are left, so a method with extra bytes is reported as malformed.
    public func expectEnd(_ context: @autoclosure () -> String) throws {
        if remaining != 0 { throw WireError.trailingBytes(context: context(), count: remaining) }
    }
}
