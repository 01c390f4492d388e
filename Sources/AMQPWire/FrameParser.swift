/// Cuts a byte stream into frames, however the stream is split into reads.
///
/// The socket reads straight into the parser's current chunk (`withWritableSpace`); decoded frames
/// reference that chunk, so strings and bodies are not copied. A chunk is reused once no frame
/// refers to it any more; otherwise the unparsed tail moves to a fresh chunk. A frame's size is
/// checked against `frameMax` before any memory is set aside for it.
public struct FrameParser {
    /// The largest frame accepted, header and end octet included (the negotiated frame_max).
    public var frameMax: UInt32
    private var chunk: ByteStorage?
    /// Chunks replaced while frames still referred to them; one that nothing refers to any more
    /// is taken again instead of allocating (at most `retiredLimit` are kept).
    private var retired: [ByteStorage] = []
    private static let retiredLimit = 8
    private var readIndex = 0
    private var writeIndex = 0
    private let chunkSize: Int

    public init(frameMax: UInt32, chunkSize: Int = 64 * 1024) {
        self.frameMax = frameMax
        self.chunkSize = max(chunkSize, 4096)
    }

    /// Bytes received but not yet returned as frames.
    public var bufferedCount: Int { writeIndex - readIndex }

    /// Gives `body` free space to fill (at least `minimum` bytes where memory allows); `body`
    /// returns how many bytes it wrote. Returns what `body` returned (for a read's result).
    public mutating func withWritableSpace(minimum: Int = 4096,
                                           _ body: (UnsafeMutableRawBufferPointer) -> Int) throws -> Int {
        try reserve(minimum)
        guard let chunk else { throw WireError.allocationFailed(size: minimum) }
        let space = UnsafeMutableRawBufferPointer(start: chunk.base + writeIndex, count: chunk.capacity - writeIndex)
        let written = body(space)
        if written > 0 { writeIndex += min(written, space.count) }
        return written
    }

    /// Appends bytes (for tests and callers that already hold the data).
    public mutating func append(_ bytes: UnsafeRawBufferPointer) throws {
        var offset = 0
        while offset < bytes.count {
            let copied = try withWritableSpace(minimum: 1) { space in
                let n = min(space.count, bytes.count - offset)
                if let src = bytes.baseAddress, let dst = space.baseAddress { dst.copyMemory(from: src + offset, byteCount: n) }
                return n
            }
            offset += copied
        }
    }

    public mutating func append(_ bytes: [UInt8]) throws {
        try bytes.withUnsafeBytes { try append($0) }
    }

    /// The next complete frame, or nil when more bytes are needed.
    public mutating func next() throws -> Frame? {
        guard let frame = try nextPayload() else { return nil }
        return try Frame.decode(type: frame.type, channel: frame.channel, payload: frame.payload)
    }

    /// The next complete frame with its payload not decoded yet (a view into the chunk), or nil
    /// when more bytes are needed. Its size and end octet are checked; `Frame.decode` (or the
    /// engine's delivery path) decodes the rest.
    public mutating func nextPayload() throws -> CutFrame? {
        guard let chunk, writeIndex - readIndex >= 7 else { return nil }
        let base = UnsafeRawPointer(chunk.base + readIndex)
        let type = base.load(as: UInt8.self)
        let channel = UInt16(bigEndian: base.loadUnaligned(fromByteOffset: 1, as: UInt16.self))
        let size = UInt32(bigEndian: base.loadUnaligned(fromByteOffset: 3, as: UInt32.self))
        guard UInt64(size) + UInt64(frameOverhead) <= UInt64(frameMax) else {
            throw WireError.frameTooLarge(size: size, frameMax: frameMax)
        }
        let total = Int(size) + frameOverhead // UInt32 fits Int: the library builds for 64-bit Linux only
        guard writeIndex - readIndex >= total else {
            try reserve(total - (writeIndex - readIndex))
            return nil
        }
        let end = base.load(fromByteOffset: total - 1, as: UInt8.self)
        guard end == AMQPConstants.frameEnd else { throw WireError.badFrameEnd(found: end) }
        let payload = Bytes(storage: chunk, offset: readIndex + 7, count: Int(size))
        readIndex += total
        return CutFrame(type: type, channel: channel, payload: payload)
    }

    /// A retired chunk of at least `capacity` bytes that no frame refers to any more.
    private mutating func reusableChunk(capacity: Int) -> ByteStorage? {
        for index in retired.indices where retired[index].capacity >= capacity {
            if isKnownUniquelyReferenced(&retired[index]) { return retired.remove(at: index) }
        }
        return nil
    }

    /// Makes room for `needed` more bytes after `writeIndex`, reusing or replacing the chunk.
    private mutating func reserve(_ needed: Int) throws {
        let pending = writeIndex - readIndex
        if pending == 0, var current = chunk {
            chunk = nil
            if isKnownUniquelyReferenced(&current) {
                readIndex = 0
                writeIndex = 0
            }
            chunk = current
        }
        if let chunk, chunk.capacity - writeIndex >= needed { return }
        let capacity = max(chunkSize, pending + needed)
        guard let fresh = reusableChunk(capacity: capacity) ?? ByteStorage(capacity: capacity) else {
            throw WireError.allocationFailed(size: capacity)
        }
        if let chunk, pending > 0 {
            fresh.base.copyMemory(from: chunk.base + readIndex, byteCount: pending)
        }
        if let old = chunk, retired.count < Self.retiredLimit { retired.append(old) }
        chunk = fresh
        readIndex = 0
        writeIndex = pending
    }
}

/// A frame cut from the stream, its payload not decoded. A struct, not a tuple: a tuple's type is
/// instantiated at run time, and copying one went through generic value witnesses per frame.
public struct CutFrame {
    /// The frame type octet (`AMQPConstants.frameMethod`, `frameHeader`, `frameBody`, `frameHeartbeat`).
    public var type: UInt8
    public var channel: UInt16
    /// The payload: a view into the parser's chunk.
    public var payload: Bytes

    public init(type: UInt8, channel: UInt16, payload: Bytes) {
        self.type = type
        self.channel = channel
        self.payload = payload
    }
}
