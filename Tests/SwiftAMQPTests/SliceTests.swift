import CSwiftAMQPAPI
import Foundation
import Testing


extension Tag {
    /// Tests against a real RabbitMQ (scripts/broker): they run when AMQP_URL is set, or when
    /// SWIFTAMQP_REQUIRE_BROKER is (scripts/test sets it, so there a missing broker fails them
    /// instead of skipping them); plain `swift test` without a broker runs the others.
    @Tag static var broker: Self
}

/// Whether the broker tests run (see `Tag.broker`).
let brokerTestsEnabled = ProcessInfo.processInfo.environment["AMQP_URL"].map { !$0.isEmpty } ?? false
    || ProcessInfo.processInfo.environment["SWIFTAMQP_REQUIRE_BROKER"] != nil

/// The broker URL from scripts/broker; the broker tests fail (not skip) without it.
func brokerURL() throws -> String {
    guard let url = ProcessInfo.processInfo.environment["AMQP_URL"], !url.isEmpty else {
        throw BrokerMissing()
    }
    return url
}

struct BrokerMissing: Error, CustomStringConvertible {
    var description: String { "AMQP_URL is not set: start a broker with scripts/broker start and export AMQP_URL" }
}

/// Calls `body` with a swamqp_bytes view of `string`.
func withBytes<R>(_ string: String, _ body: (swamqp_bytes) throws -> R) rethrows -> R {
    var copy = string
    return try copy.withUTF8 { try body(swamqp_bytes(bytes: $0.baseAddress, len: $0.count)) }
}

/// Opens a connection to the test broker through the C ABI.
func connect(_ configure: (inout swamqp_connection_options) -> Void = { _ in }) throws -> OpaquePointer {
    var options = swamqp_connection_options()
    swamqp_connection_options_init(&options)
    var error = swamqp_error()
    let url = try brokerURL()
    #expect(swamqp_parse_url(url, &options, &error) == SWAMQP_OK.rawValue)
    configure(&options)
    var connection: OpaquePointer?
    let status = swamqp_connect(&options, &connection, &error)
    guard status == SWAMQP_OK.rawValue, let connection else {
        throw ConnectFailed(status: status, message: withUnsafeBytes(of: error.message) { String(decoding: $0.prefix { $0 != 0 }, as: UTF8.self) })
    }
    return connection
}

struct ConnectFailed: Error {
    let status: Int32
    let message: String
}

@Suite(.serialized) struct SliceTests {
    @Test(.tags(.broker), .enabled(if: brokerTestsEnabled, "needs a broker: AMQP_URL is not set"))
    func publishGetAckThroughTheCABI() throws {
        let connection = try connect { $0.connection_name = nil }
        defer { _ = swamqp_connection_free(connection) }
        var error = swamqp_error()
        var channel: UInt16 = 0
        #expect(swamqp_channel_open(connection, &channel, 5000, &error) == SWAMQP_OK.rawValue)
        var declared = swamqp_queue_declare_ok()
        let status = withBytes("") { swamqp_queue_declare(connection, channel, $0, UInt32(SWAMQP_EXCLUSIVE), nil, &declared, 5000, &error) }
        #expect(status == SWAMQP_OK.rawValue)
        let queue = withUnsafeBytes(of: declared.name) { String(decoding: $0.prefix(declared.name_len), as: UTF8.self) }
        #expect(queue.hasPrefix("amq.gen-"))

        let published = withBytes("") { exchange in withBytes(queue) { key in withBytes("payload") { body in
            swamqp_basic_publish(connection, channel, exchange, key, 0, nil, body, nil, 1000, &error)
        } } }
        #expect(published == SWAMQP_OK.rawValue)

        var message: UnsafeMutablePointer<swamqp_message>?
        var got = SWAMQP_OK.rawValue
        for _ in 0..<50 {
            got = withBytes(queue) { swamqp_basic_get(connection, channel, $0, 0, &message, 5000, &error) }
            if message != nil || got != SWAMQP_OK.rawValue { break }
            usleep(20_000)
        }
        #expect(got == SWAMQP_OK.rawValue)
        guard let message else { Issue.record("no message"); return }
        let body = UnsafeRawBufferPointer(start: message.pointee.body.bytes, count: message.pointee.body.len)
        #expect(String(decoding: body, as: UTF8.self) == "payload")
        #expect(swamqp_basic_ack(connection, channel, message.pointee.delivery_tag, 0, &error) == SWAMQP_OK.rawValue)
        #expect(swamqp_message_free(message) == SWAMQP_OK.rawValue)
        #expect(swamqp_message_free(message) == SWAMQP_ERR_INVALID_HANDLE.rawValue)
        #expect(swamqp_channel_close(connection, channel, 5000, &error) == SWAMQP_OK.rawValue)
        #expect(swamqp_connection_close(connection, 5000, &error) == SWAMQP_OK.rawValue)
        #expect(!swamqp_connection_is_open(connection))
    }

    @Test(.tags(.broker), .enabled(if: brokerTestsEnabled, "needs a broker: AMQP_URL is not set"))
    func wrongPasswordIsRefusedQuickly() throws {
        let start = Date()
        #expect(throws: (any Error).self) {
            _ = try connect { $0.password = UnsafePointer(strdup("definitely-wrong")) }
        }
        do {
            _ = try connect { $0.password = UnsafePointer(strdup("definitely-wrong")) }
        } catch let failure as ConnectFailed {
            #expect(failure.status == SWAMQP_ERR_AUTH.rawValue)
            #expect(failure.message.contains("ACCESS_REFUSED"))
            #expect(!failure.message.contains("definitely-wrong"))
        }
        #expect(Date().timeIntervalSince(start) < 10)
    }

    @Test func versionMatchesTheHeader() {
        #expect(String(cString: swamqp_version()) == SWAMQP_VERSION_STRING)
        #expect(swamqp_version_number() == UInt32(SWAMQP_VERSION_MAJOR * 10000 + SWAMQP_VERSION_MINOR * 100 + SWAMQP_VERSION_PATCH))
    }
}
