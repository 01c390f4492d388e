import Testing
@testable import AMQPWire

/// Encodes a few frames of every kind into one stream.
private func sampleStream() throws -> (bytes: [UInt8], frames: [Frame]) {
    var writer = ByteWriter()
    var frames: [Frame] = []
    let declare = Method.queueDeclare(QueueDeclare(queue: "q", durable: true, arguments: ["x-max-length": .int32(10)]))
    try writer.writeMethodFrame(channel: 1, declare)
    frames.append(.method(channel: 1, declare))
    writer.writeHeartbeatFrame()
    frames.append(.heartbeat)
    let body: [UInt8] = Array(0..<200).map { UInt8($0 & 0xFF) }
    let properties = BasicProperties(contentType: "text/plain", headers: ["k": .longString("v")], deliveryMode: 2, timestamp: 1_700_000_000)
    let publish = Method.basicPublish(BasicPublish(exchange: "ex", routingKey: "rk", mandatory: true))
    try body.withUnsafeBytes { try writer.writeContent(channel: 3, method: publish, properties: properties, body: $0, frameMax: 4096) }
    frames.append(.method(channel: 3, publish))
    frames.append(.header(channel: 3, try ContentHeader(bodySize: 200, properties: properties)))
    frames.append(.body(channel: 3, Bytes(body)))
    return (writer.buffer, frames)
}

private func parseAll(_ chunks: [[UInt8]], frameMax: UInt32 = 131_072) throws -> [Frame] {
    var parser = FrameParser(frameMax: frameMax, chunkSize: 4096)
    var frames: [Frame] = []
    for chunk in chunks {
        try parser.append(chunk)
        while let frame = try parser.next() { frames.append(frame) }
    }
    return frames
}

@Suite struct FrameParserTests {
    @Test func wholeStreamParses() throws {
        let (bytes, expected) = try sampleStream()
        #expect(try parseAll([bytes]) == expected)
    }

    @Test func dripFeedByteByByte() throws {
        let (bytes, expected) = try sampleStream()
        #expect(try parseAll(bytes.map { [$0] }) == expected)
    }

    @Test func randomSplitsGiveTheSameFrames() throws {
        let (bytes, expected) = try sampleStream()
        var generator = SplitMix64(seed: 42)
        for _ in 0..<200 {
            var chunks: [[UInt8]] = []
            var index = 0
            while index < bytes.count {
                let length = Int(generator.next() % 97) + 1
                let end = min(index + length, bytes.count)
                chunks.append(Array(bytes[index..<end]))
                index = end
            }
            #expect(try parseAll(chunks) == expected)
        }
    }

    @Test func oversizedFrameIsRefusedFromItsHeaderAlone() throws {
        // Only the 7-byte header of a 2 GiB frame: refused before any payload arrives.
        let header: [UInt8] = [1, 0, 1, 0x7F, 0xFF, 0xFF, 0xFF]
        #expect(throws: WireError.frameTooLarge(size: 0x7FFF_FFFF, frameMax: 131_072)) { try parseAll([header]) }
    }

    @Test func frameAtExactlyFrameMaxIsAccepted() throws {
        var writer = ByteWriter()
        let payload = [UInt8](repeating: 7, count: 4096 - frameOverhead)
        writer.writeUInt8(3); writer.writeUInt16(1); writer.writeUInt32(UInt32(payload.count))
        writer.buffer += payload
        writer.writeUInt8(0xCE)
        #expect(try parseAll([writer.buffer], frameMax: 4096) == [.body(channel: 1, Bytes(payload))])
        writer.buffer.insert(0, at: 10) // one byte more than frame_max allows
        writer.patchUInt32(UInt32(payload.count + 1), at: 3)
        #expect(throws: WireError.frameTooLarge(size: UInt32(payload.count + 1), frameMax: 4096)) { try parseAll([writer.buffer], frameMax: 4096) }
    }

    @Test func wrongFrameEndIsAnError() throws {
        var (bytes, _) = try sampleStream()
        let firstSize = Int(bytes[3]) << 24 | Int(bytes[4]) << 16 | Int(bytes[5]) << 8 | Int(bytes[6])
        bytes[7 + firstSize] = 0xCD
        #expect(throws: WireError.badFrameEnd(found: 0xCD)) { try parseAll([bytes]) }
    }

    @Test func unknownFrameTypeAndMethodAreTypedErrors() throws {
        #expect(throws: WireError.unknownFrameType(9)) { try parseAll([[9, 0, 0, 0, 0, 0, 0, 0xCE]]) }
        #expect(throws: WireError.unknownMethod(classID: 60, methodID: 99)) {
            try parseAll([[1, 0, 1, 0, 0, 0, 4, 0, 60, 0, 99, 0xCE]])
        }
    }

    @Test func truncatedMethodArgumentsAreAnError() throws {
        // basic.ack needs 9 bytes of arguments; give 3.
        let frame: [UInt8] = [1, 0, 1, 0, 0, 0, 7, 0, 60, 0, 80, 1, 2, 3, 0xCE]
        #expect(throws: WireError.truncated(context: "basic.ack delivery-tag")) { try parseAll([frame]) }
    }

    @Test func bodiesAreSlicesOfTheReceiveBuffer() throws {
        let (bytes, _) = try sampleStream()
        var parser = FrameParser(frameMax: 131_072)
        try parser.append(bytes)
        var bodies: [Bytes] = []
        var headers = 0
        while let frame = try parser.next() {
            if case .body(_, let body) = frame { bodies.append(body) }
            if case .header = frame { headers += 1 }
        }
        #expect(bodies.count == 1 && headers == 1)
        // The body view shares storage with the parser's chunk instead of owning a copy.
        #expect(bodies[0].storage?.capacity ?? 0 > bodies[0].count)
    }
}

/// A small deterministic generator for reproducible random splits.
struct SplitMix64: RandomNumberGenerator {
    var state: UInt64
    init(seed: UInt64) { state = seed }
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}
