import Testing
@testable import AMQPWire

/// The publish hot path (`writePublish`: a small message's three frames in one append, larger ones
/// frame by frame) against the general content encoder (`writeContent` over the `Method` enum), and
/// parsed back: both must give the same bytes for every size and kind of properties.
@Suite struct PublishEncodingTests {
    static let propertySets: [BasicProperties] = [
        BasicProperties(),
        BasicProperties(contentType: "text/plain", deliveryMode: 2, correlationId: "c-1", timestamp: 1_700_000_000),
        BasicProperties(headers: ["k": .longString("v"), "n": .int32(7)], priority: 3, appId: "app"),
    ]

    static let bodySizes = [0, 1, 16, ByteWriter.inlineBodyLimit, ByteWriter.inlineBodyLimit + 1, 10_000]

    @Test(arguments: [UInt32(4096), 131_072])
    func publishMatchesTheGeneralEncoder(frameMax: UInt32) throws {
        for properties in Self.propertySets {
            for size in Self.bodySizes {
                let body = (0..<size).map { UInt8(truncatingIfNeeded: $0 &* 31) }
                let exchange = Array("amq.direct".utf8), key = Array("route".utf8)
                var fast = ByteWriter(), general = ByteWriter()
                try body.withUnsafeBytes { b in
                    try exchange.withUnsafeBytes { e in
                        try key.withUnsafeBytes { k in
                            try fast.writePublish(channel: 5, exchange: e, routingKey: k, mandatory: true, immediate: false,
                                                  properties: properties, body: b, frameMax: frameMax)
                        }
                    }
                    let method = Method.basicPublish(BasicPublish(exchange: "amq.direct", routingKey: "route", mandatory: true))
                    try general.writeContent(channel: 5, method: method, properties: properties, body: b, frameMax: frameMax)
                }
                #expect(fast.buffer == general.buffer, "body \(size), frame_max \(frameMax), flags \(properties.flags)")

                var parser = FrameParser(frameMax: frameMax, chunkSize: 4096)
                try parser.append(fast.buffer)
                var frames: [Frame] = []
                while let frame = try parser.next() { frames.append(frame) }
                let chunk = Int(frameMax) - frameOverhead
                #expect(frames.count == 2 + (size + chunk - 1) / chunk)
                guard frames.count >= 2, case .header(_, let header) = frames[1] else {
                    Issue.record("no content header for body \(size)")
                    continue
                }
                #expect(header.bodySize == UInt64(size))
                #expect(try header.decodeProperties() == properties)
                #expect(header.hasNoProperties == (properties.flags == 0))
                var received: [UInt8] = []
                for case .body(_, let bytes) in frames.dropFirst(2) { bytes.withUnsafeBytes { received.append(contentsOf: $0) } }
                #expect(received == body)
            }
        }
    }
}
