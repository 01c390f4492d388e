// Our side of bench/codec (run it through bench/codec/run, which prints both sides). The same
// message and operations as rabbitmq_bench.c:
//
//   decode            Frame.decode of the three payloads (basic.deliver, content header, body as a
//                     view into the frame, no copy), as they sit in one received buffer
//   decode+headers    the same with a 3-entry headers table
//   decode-parser     FrameParser.append of the 3-frame stream + next() three times: the whole
//                     inbound path of one message, frame splitting included (no librabbitmq twin)
//   decode-client     the three payloads as the client's engine decodes a delivery: basic.deliver
//                     straight into a message's fields (Frame.isDeliver, Frame.decodeDeliver), the
//                     content header (Frame.decodeHeader, then its properties), the body as a view
//                     (compared with librabbitmq's decode)
//   encode-method     BasicPublish.encode(into:) into a reused ByteWriter
//   encode-frames     ByteWriter.writeContent: method, header and body frames into a reused buffer
//   encode-publish    ByteWriter.writePublish, the client's publish path: the three frames straight
//                     from the caller's exchange, routing key and body (compared with librabbitmq's
//                     encode-frames)
//
// Prints "op ns/op allocs/op" lines, and the encoded bytes for the comparison with librabbitmq.
#if canImport(Glibc)
import Glibc
#endif
import AMQPWire

typealias AllocCount = @convention(c) () -> UInt64
let allocCount: AllocCount? = dlsym(UnsafeMutableRawPointer(bitPattern: 0), "bench_alloc_count")
    .map { unsafeBitCast($0, to: AllocCount.self) }
nonisolated(unsafe) var sink: UInt64 = 0

func nowNs() -> UInt64 {
    var ts = timespec()
    clock_gettime(CLOCK_MONOTONIC, &ts)
    return UInt64(ts.tv_sec) * 1_000_000_000 + UInt64(ts.tv_nsec)
}

let rounds = 7
let iterations = CommandLine.arguments.count > 1 ? Int(CommandLine.arguments[1]) ?? 2_000_000 : 2_000_000

/// Runs `body` `iterations` times per round, `rounds` rounds after a warm-up; prints the best round.
let only = getenv("BENCH_ONLY").map { String(cString: $0) }

func measure(_ name: String, _ body: () throws -> UInt64) rethrows {
    if let only, only != name { return }
    var times: [UInt64] = []
    var allocs: UInt64 = 0
    var sum: UInt64 = 0
    for round in -1..<rounds {
        let a0 = allocCount?() ?? 0
        let t0 = nowNs()
        for _ in 0..<iterations { sum &+= try body() }
        let t1 = nowNs()
        let a1 = allocCount?() ?? 0
        if round >= 0 {
            times.append(t1 - t0)
            allocs += a1 - a0
        }
    }
    sink &+= sum
    times.sort()
    let ns = Double(times[0]) / Double(iterations) // the best round: the least disturbed by other load
    let perOp = allocCount == nil ? "n/a" : String(Double(allocs) / Double(iterations) / Double(rounds))
    print("\(name) \(ns) \(perOp)")
}

func hex(_ bytes: [UInt8]) -> String {
    let digits = Array("0123456789abcdef")
    return String(bytes.flatMap { [digits[Int($0 >> 4)], digits[Int($0 & 15)]] })
}

let body16: [UInt8] = Array(0..<16)
let headers: FieldTable = [
    "x-retry": .int32(3), "trace-id": .longString("4bf92f3577b34da6a3ce929d0e0e4736"), "x-first-seen": .timestamp(1_700_000_000),
]

func properties(withHeaders: Bool) -> BasicProperties {
    BasicProperties(contentType: "application/octet-stream", headers: withHeaders ? headers : nil, deliveryMode: 2,
                    messageId: "msg-00000001", timestamp: 1_700_000_000)
}

/// One received buffer holding the three frames of a delivery, and views of their payloads.
struct Delivery {
    let stream: Bytes
    let method: Bytes
    let header: Bytes
    let body: Bytes

    init(withHeaders: Bool) throws {
        let deliver = BasicDeliver(consumerTag: "amq.ctag-Xv3Fz8Gm1lJ4Y0kqE2pTdA", deliveryTag: 123_456_789, redelivered: false,
                                   exchange: "bench.exchange", routingKey: "bench.routing.key")
        var writer = ByteWriter()
        try body16.withUnsafeBytes {
            try writer.writeContent(channel: 1, method: .basicDeliver(deliver), properties: properties(withHeaders: withHeaders),
                                    body: $0, frameMax: 131_072)
        }
        let all = Bytes(writer.buffer)
        let encoded = writer.buffer
        stream = all
        var at = 0
        func next() -> Bytes {
            let size = Int(encoded[at + 3]) << 24 | Int(encoded[at + 4]) << 16 | Int(encoded[at + 5]) << 8 | Int(encoded[at + 6])
            defer { at += 8 + size }
            return all.slice(from: at + 7, length: size) ?? Bytes()
        }
        method = next()
        header = next()
        body = next()
    }
}

func benchDecode(_ name: String, _ delivery: Delivery) throws {
    // Frame.decode is the library's decoder of a frame's payload (FrameParser calls it).
    try measure(name) {
        var sum: UInt64 = 0
        if case .method(_, .basicDeliver(let deliver)) = try Frame.decode(type: 1, channel: 1, payload: delivery.method) {
            sum &+= deliver.deliveryTag
        }
        if case .header(_, let header) = try Frame.decode(type: 2, channel: 1, payload: delivery.header) {
            sum &+= UInt64(try header.decodeProperties().deliveryMode ?? 0) &+ header.bodySize
        }
        if case .body(_, let body) = try Frame.decode(type: 3, channel: 1, payload: delivery.body) {
            sum &+= UInt64(body.count)
        }
        return sum
    }
}

do {
    print("version swiftamqp AMQPWire")
    let plain = try Delivery(withHeaders: false)
    let withHeaders = try Delivery(withHeaders: true)
    print("bytes-deliver \(hex(plain.stream.array))")
    try benchDecode("decode", plain)
    try benchDecode("decode+headers", withHeaders)

    /// Where the engine decodes a delivery's strings to: a pooled message's fields.
    final class Fields {
        var consumerTag = Bytes(), exchange = Bytes(), routingKey = Bytes()
    }
    let fields = Fields()
    try measure("decode-client") {
        var sum: UInt64 = 0
        if Frame.isDeliver(payload: plain.method) {
            let deliver = try Frame.decodeDeliver(payload: plain.method, consumerTag: &fields.consumerTag,
                                                  exchange: &fields.exchange, routingKey: &fields.routingKey)
            sum &+= deliver.deliveryTag
        }
        let header = try Frame.decodeHeader(payload: plain.header)
        sum &+= UInt64(try header.decodeProperties().deliveryMode ?? 0) &+ header.bodySize
        sum &+= UInt64(plain.body.count)
        return sum
    }

    var parser = FrameParser(frameMax: 131_072)
    let streamBytes = plain.stream.array
    try streamBytes.withUnsafeBytes { raw in
        try measure("decode-parser") {
            try parser.append(raw)
            var sum: UInt64 = 0
            while let frame = try parser.next() {
                switch frame {
                case .method(_, .basicDeliver(let deliver)): sum &+= deliver.deliveryTag
                case .header(_, let header): sum &+= header.bodySize
                case .body(_, let body): sum &+= UInt64(body.count)
                default: break
                }
            }
            return sum
        }
    }

    let publish = BasicPublish(exchange: "bench.exchange", routingKey: "bench.routing.key")
    let publishProperties = properties(withHeaders: false)
    var writer = ByteWriter(capacity: 65536)
    try measure("encode-method") {
        writer.buffer.removeAll(keepingCapacity: true)
        try publish.encode(into: &writer)
        return UInt64(writer.count) &+ UInt64(writer.buffer[writer.count - 1])
    }
    let method = Method.basicPublish(publish)
    try body16.withUnsafeBytes { body in
        try measure("encode-frames") {
            writer.buffer.removeAll(keepingCapacity: true)
            try writer.writeContent(channel: 1, method: method, properties: publishProperties, body: body, frameMax: 131_072)
            return UInt64(writer.count) &+ UInt64(writer.buffer[writer.count / 2])
        }
    }
    let exchange = Array("bench.exchange".utf8), routingKey = Array("bench.routing.key".utf8)
    try body16.withUnsafeBytes { body in
        try exchange.withUnsafeBytes { exchange in
            try routingKey.withUnsafeBytes { routingKey in
                try measure("encode-publish") {
                    writer.buffer.removeAll(keepingCapacity: true)
                    try writer.writePublish(channel: 1, exchange: exchange, routingKey: routingKey, mandatory: false, immediate: false,
                                            properties: publishProperties, body: body, frameMax: 131_072)
                    return UInt64(writer.count) &+ UInt64(writer.buffer[writer.count / 2])
                }
            }
        }
    }
    writer.buffer.removeAll(keepingCapacity: true)
    try body16.withUnsafeBytes { try writer.writeContent(channel: 1, method: method, properties: publishProperties, body: $0, frameMax: 131_072) }
    let generalEncoding = writer.buffer
    writer.buffer.removeAll(keepingCapacity: true)
    try body16.withUnsafeBytes { body in
        try exchange.withUnsafeBytes { exchange in
            try routingKey.withUnsafeBytes { routingKey in
                try writer.writePublish(channel: 1, exchange: exchange, routingKey: routingKey, mandatory: false, immediate: false,
                                        properties: publishProperties, body: body, frameMax: 131_072)
            }
        }
    }
    guard writer.buffer == generalEncoding else {
        print("error writePublish and writeContent encode different bytes")
        exit(1)
    }
    print("bytes-publish \(hex(writer.buffer))")
} catch {
    print("error \(error)")
    exit(1)
}
