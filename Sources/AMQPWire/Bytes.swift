#if canImport(Glibc)
import Glibc
#endif

/// Heap memory that backs one or more `Bytes` views. It is written only before it is shared, so
/// readers on any thread see immutable memory; it is freed when the last view goes away.
public final class ByteStorage: @unchecked Sendable {
    public let base: UnsafeMutableRawPointer
    public let capacity: Int

    /// Allocates `capacity` bytes; nil when the allocation fails, so a huge size is an error, not a trap.
    public init?(capacity: Int) {
        guard capacity >= 0, let pointer = malloc(max(capacity, 1)) else { return nil }
        self.base = pointer
        self.capacity = capacity
    }

    deinit { free(base) }
}

/// An immutable byte string: a view of `count` bytes at `offset` in shared storage.
///
/// Slicing a received buffer gives a `Bytes` without copying, so method strings and message bodies
/// decoded from a frame point into the buffer the socket filled.
public struct Bytes: Sendable {
    @usableFromInline let storage: ByteStorage?
    @usableFromInline let offset: Int
    public let count: Int

    /// Identifies the storage this view points into (nil for the empty string) without retaining
    /// it: views of one storage share the identifier while that storage lives.
    @inlinable public var storageID: ObjectIdentifier? { storage.map { ObjectIdentifier($0) } }

    /// The empty byte string.
    public init() {
        storage = nil
        offset = 0
        count = 0
    }

    /// A view of `count` bytes at `offset` of `storage`; the caller guarantees the range is inside.
    public init(storage: ByteStorage, offset: Int, count: Int) {
        self.storage = storage
        self.offset = offset
        self.count = count
    }

    /// A copy of `buffer`.
    public init(copying buffer: UnsafeRawBufferPointer) {
        guard buffer.count > 0, let base = buffer.baseAddress, let storage = ByteStorage(capacity: buffer.count) else {
            self.init()
            return
        }
        storage.base.copyMemory(from: base, byteCount: buffer.count)
        self.init(storage: storage, offset: 0, count: buffer.count)
    }

    /// A copy of `array`.
    public init(_ array: [UInt8]) {
        self = array.withUnsafeBytes { Bytes(copying: $0) }
    }

    /// The UTF-8 bytes of `string`.
    public init(_ string: String) {
        var string = string
        self = string.withUTF8 { Bytes(copying: UnsafeRawBufferPointer($0)) }
    }

    public var isEmpty: Bool { count == 0 }

    /// Calls `body` with the bytes; the pointer is valid only inside `body` unless the caller keeps
    /// this value (or its storage) alive.
    @inlinable
    public func withUnsafeBytes<R>(_ body: (UnsafeRawBufferPointer) throws -> R) rethrows -> R {
        guard let storage else { return try body(UnsafeRawBufferPointer(start: nil, count: 0)) }
        return try body(UnsafeRawBufferPointer(start: storage.base + offset, count: count))
    }

    /// The address of the first byte, stable while this value or its storage lives; nil when empty.
    @inlinable public var baseAddress: UnsafeRawPointer? {
        guard let storage, count > 0 else { return nil }
        return UnsafeRawPointer(storage.base + offset)
    }

    /// The byte at `index`, or nil outside `0..<count`.
    public func byte(at index: Int) -> UInt8? {
        guard index >= 0, index < count, let storage else { return nil }
        return storage.base.load(fromByteOffset: offset + index, as: UInt8.self)
    }

    /// A view of `length` bytes from `start`, or nil when the range is outside this view.
    public func slice(from start: Int, length: Int) -> Bytes? {
        guard start >= 0, length >= 0, start <= count, length <= count - start else { return nil }
        guard let storage, length > 0 else { return Bytes() }
        return Bytes(storage: storage, offset: offset + start, count: length)
    }

    public var array: [UInt8] { withUnsafeBytes { Array($0) } }

    /// The bytes as a String when they are valid UTF-8, else nil.
    public var utf8String: String? {
        withUnsafeBytes { buffer in
            String(validating: buffer.bindMemory(to: UInt8.self), as: UTF8.self)
        }
    }

    /// The bytes as a String, invalid UTF-8 replaced by U+FFFD: for messages and logs only.
    public var lossyString: String {
        withUnsafeBytes { String(decoding: $0.bindMemory(to: UInt8.self), as: UTF8.self) }
    }
}

extension Bytes: Equatable, Hashable {
    public static func == (lhs: Bytes, rhs: Bytes) -> Bool {
        guard lhs.count == rhs.count else { return false }
        return lhs.withUnsafeBytes { l in rhs.withUnsafeBytes { r in
            guard let a = l.baseAddress, let b = r.baseAddress else { return l.count == 0 }
            return memcmp(a, b, l.count) == 0
        } }
    }

    public func hash(into hasher: inout Hasher) {
        withUnsafeBytes { hasher.combine(bytes: $0) }
    }
}

extension Bytes: ExpressibleByStringLiteral {
    public init(stringLiteral value: String) { self.init(value) }
}

extension Bytes: CustomStringConvertible {
    public var description: String { lossyString }
}
