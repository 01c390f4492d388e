import CSwiftAMQPAPI
import Foundation
import Testing

/// A connection handle shared between threads: the C API allows every function from any thread.
struct SharedHandle: @unchecked Sendable {
    let raw: OpaquePointer
}

/// What the publisher threads report back, behind a lock.
final class PublishResults: @unchecked Sendable {
    private let lock = NSLock()
    private var failures: [String] = []
    private var finishedThreads = 0

    func fail(_ text: String) { lock.withLock { failures.append(text) } }
    func finished() { lock.withLock { finishedThreads += 1 } }
    var snapshot: (failures: [String], finished: Int) { lock.withLock { (failures, finishedThreads) } }
}

enum ChannelUse: String, CustomStringConvertible, CaseIterable {
    case channelPerThread
    case sharedChannel
    var description: String { rawValue }
}

/// The concurrency test of the C ABI: 8 threads publish on one connection, a consumer on a second
/// connection acks everything; no message may be lost, duplicated or reordered within its thread.
/// Meant to run clean under `swift test --sanitize=thread --filter ConcurrencyTests`.
@Suite(.serialized, .tags(.broker), .enabled(if: brokerTestsEnabled, "needs a broker: AMQP_URL is not set"))
struct ConcurrencyTests {
    static let threads = 8
    static let perThread = 2000

    @Test(arguments: ChannelUse.allCases)
    func eightPublisherThreadsOneConsumer(_ use: ChannelUse) throws {
        let publisher = SharedHandle(raw: try connect())
        let consumer = try connect()
        defer {
            _ = swamqp_connection_free(publisher.raw)
            _ = swamqp_connection_free(consumer)
        }
        var error = swamqp_error()

        // The consumer: a server-named queue, prefetch 1000, manual acks.
        var consumerChannel: UInt16 = 0
        try #require(swamqp_channel_open(consumer, &consumerChannel, 5000, &error) == SWAMQP_OK.rawValue)
        var declared = swamqp_queue_declare_ok()
        let declareStatus = withBytes("") {
            swamqp_queue_declare(consumer, consumerChannel, $0, UInt32(SWAMQP_EXCLUSIVE), nil, &declared, 5000, &error)
        }
        try #require(declareStatus == SWAMQP_OK.rawValue)
        let queue = withUnsafeBytes(of: declared.name) { String(decoding: $0.prefix(declared.name_len), as: UTF8.self) }
        try #require(swamqp_basic_qos(consumer, consumerChannel, 0, 1000, 0, 5000, &error) == SWAMQP_OK.rawValue)
        let consumeStatus = withBytes(queue) { q in withBytes("") { tag in
            swamqp_basic_consume(consumer, consumerChannel, q, tag, 0, nil, nil, 5000, &error)
        } }
        try #require(consumeStatus == SWAMQP_OK.rawValue)

        // The publishers.
        var sharedChannel: UInt16 = 0
        if use == .sharedChannel {
            try #require(swamqp_channel_open(publisher.raw, &sharedChannel, 5000, &error) == SWAMQP_OK.rawValue)
        }
        let results = PublishResults()
        let start = DispatchGroup()
        start.enter()
        var threads: [Thread] = []
        for t in 0..<Self.threads {
            let channelForThread = sharedChannel
            let thread = Thread {
                defer { results.finished() }
                var error = swamqp_error()
                var channel = channelForThread
                if channel == 0 {
                    let status = swamqp_channel_open(publisher.raw, &channel, 5000, &error)
                    guard status == SWAMQP_OK.rawValue else {
                        results.fail("thread \(t): channel_open returned \(status)")
                        return
                    }
                }
                start.wait() // all threads publish at the same moment
                for i in 0..<Self.perThread {
                    let status = withBytes("") { exchange in withBytes(queue) { key in withBytes("t\(t)-\(i)") { body in
                        swamqp_basic_publish(publisher.raw, channel, exchange, key, 0, nil, body, nil, 10000, &error)
                    } } }
                    if status != SWAMQP_OK.rawValue {
                        results.fail("thread \(t): publish \(i) returned \(status)")
                        return
                    }
                }
            }
            thread.name = "publisher \(t)"
            threads.append(thread)
            thread.start()
        }
        start.leave()

        // Consume on this thread until everything arrived (or the deadline).
        let total = Self.threads * Self.perThread
        var seen = Set<String>()
        var duplicates: [String] = []
        var outOfOrder: [String] = []
        var lastIndex = [Int](repeating: -1, count: Self.threads)
        var events = [swamqp_event](repeating: swamqp_event(), count: 256)
        var unexpected: [Int32] = []
        let deadline = Date().addingTimeInterval(120)
        while seen.count + duplicates.count < total && Date() < deadline {
            var count = 0
            let status = swamqp_next_events(consumer, &events, events.count, &count, 500)
            try #require(status == SWAMQP_OK.rawValue)
            var lastTag: UInt64 = 0
            for event in events.prefix(count) {
                guard event.type == SWAMQP_EVENT_DELIVERY.rawValue, let message = event.message else {
                    if event.type != SWAMQP_EVENT_LOG.rawValue { unexpected.append(event.type) }
                    continue
                }
                let body = String(decoding: UnsafeRawBufferPointer(start: message.pointee.body.bytes,
                                                                   count: message.pointee.body.len), as: UTF8.self)
                if !seen.insert(body).inserted { duplicates.append(body) }
                let parts = body.dropFirst().split(separator: "-")
                if parts.count == 2, let t = Int(parts[0]), let i = Int(parts[1]), t >= 0, t < Self.threads {
                    if i <= lastIndex[t] { outOfOrder.append(body) }
                    lastIndex[t] = i
                } else {
                    unexpected.append(-1)
                }
                lastTag = message.pointee.delivery_tag
            }
            if lastTag != 0 {
                #expect(swamqp_basic_ack(consumer, consumerChannel, lastTag, UInt32(SWAMQP_MULTIPLE), &error) == SWAMQP_OK.rawValue)
            }
        }
        while results.snapshot.finished < Self.threads && Date() < deadline { usleep(10_000) }

        let report = results.snapshot
        #expect(report.failures.isEmpty, "publish failures: \(report.failures.prefix(5))")
        #expect(report.finished == Self.threads)
        #expect(duplicates.isEmpty, "duplicated: \(duplicates.prefix(5))")
        #expect(outOfOrder.isEmpty, "out of order within a thread: \(outOfOrder.prefix(5))")
        #expect(unexpected.isEmpty, "unexpected events or bodies: \(unexpected.prefix(5))")
        #expect(seen.count == total, "received \(seen.count) distinct of \(total)")
        for t in 0..<Self.threads {
            let missing = (0..<Self.perThread).filter { !seen.contains("t\(t)-\($0)") }
            #expect(missing.isEmpty, "thread \(t): \(missing.count) missing, first \(missing.prefix(5))")
        }
        var stats = swamqp_stats()
        #expect(swamqp_connection_stats(publisher.raw, &stats) == SWAMQP_OK.rawValue)
        #expect(stats.publishes == UInt64(total))
        #expect(swamqp_connection_close(publisher.raw, 5000, &error) == SWAMQP_OK.rawValue)
        #expect(swamqp_connection_close(consumer, 5000, &error) == SWAMQP_OK.rawValue)
    }
}
