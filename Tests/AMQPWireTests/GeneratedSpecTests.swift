import Foundation
import Testing
@testable import AMQPWire

@Suite struct GeneratedSpecTests {
    @Test func committedSpecCodeMatchesAFreshGeneration() throws {
        let spec = sharedDirectory() + "/spec/amqp-rabbitmq-0.9.1.json"
        guard FileManager.default.fileExists(atPath: spec) else {
            Issue.record("\(spec) is missing, so the generated-code check DID NOT RUN (needs ../shared beside the repository)")
            return
        }
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = ["python3", repositoryDirectory() + "/scripts/generate-spec", "--check", "--spec", spec]
        try process.run()
        process.waitUntilExit()
        #expect(process.terminationStatus == 0, "Sources/AMQPWire/Generated/AMQPSpec.swift is stale: run scripts/generate-spec")
    }

    @Test func exchangeUnbindOkIs51() {
        #expect(ExchangeUnbindOk.methodID == 51)
    }

    @Test func everyMethodRoundTrips() throws {
        let methods: [Method] = [
            .connectionStart(ConnectionStart(serverProperties: ["product": .longString("RabbitMQ")])),
            .connectionStartOk(ConnectionStartOk(clientProperties: [:], response: Bytes([0, 1, 2]))),
            .connectionTune(ConnectionTune(channelMax: 2047, frameMax: 131072, heartbeat: 60)),
            .connectionOpen(ConnectionOpen(virtualHost: "/")),
            .connectionClose(ConnectionClose(replyCode: 320, replyText: "CONNECTION_FORCED", classId: 0, methodId: 0)),
            .connectionBlocked(ConnectionBlocked(reason: "low on memory")),
            .connectionUpdateSecret(ConnectionUpdateSecret(newSecret: "s", reason: "r")),
            .exchangeDeclare(ExchangeDeclare(exchange: "e", type: "topic", passive: true, durable: true, autoDelete: true, internal: true, nowait: true)),
            .exchangeUnbind(ExchangeUnbind(destination: "d", source: "s", routingKey: "k")),
            .queueDeclareOk(QueueDeclareOk(queue: "amq.gen-1", messageCount: 5, consumerCount: 1)),
            .queueDelete(QueueDelete(queue: "q", ifUnused: true, ifEmpty: false, nowait: true)),
            .basicQos(BasicQos(prefetchSize: 0, prefetchCount: 100, global: true)),
            .basicConsume(BasicConsume(queue: "q", consumerTag: "t", noLocal: true, noAck: false, exclusive: true, nowait: false)),
            .basicDeliver(BasicDeliver(consumerTag: "t", deliveryTag: UInt64.max, redelivered: true, exchange: "e", routingKey: "k")),
            .basicNack(BasicNack(deliveryTag: 9, multiple: true, requeue: false)),
            .basicRecoverAsync(BasicRecoverAsync(requeue: true)),
            .txCommitOk(TxCommitOk()),
            .confirmSelect(ConfirmSelect(nowait: false)),
        ]
        for method in methods {
            var writer = ByteWriter()
            try method.encode(into: &writer)
            var reader = ByteReader(Bytes(writer.buffer))
            let classID = try reader.readUInt16()
            let methodID = try reader.readUInt16()
            #expect(try Method.decode(classID: classID, methodID: methodID, from: &reader) == method)
        }
    }

    @Test func propertiesUseTheirFlagBits() throws {
        let all = BasicProperties(contentType: "a", contentEncoding: "b", headers: ["h": .void], deliveryMode: 2, priority: 9,
                                  correlationId: "c", replyTo: "d", expiration: "60000", messageId: "m", timestamp: 5,
                                  type: "t", userId: "guest", appId: "app", clusterId: "cl")
        #expect(all.flags == 0xFFFC)
        #expect(BasicProperties(contentType: "x").flags == 0x8000)
        #expect(BasicProperties(clusterId: "x").flags == 0x0004)
        var writer = ByteWriter()
        try all.encode(into: &writer)
        var reader = ByteReader(Bytes(writer.buffer))
        #expect(try BasicProperties(from: &reader) == all)
        var bad = ByteReader(Bytes([0x00, 0x02]))
        #expect(throws: WireError.invalidContentHeader("unknown property flags 2")) { try BasicProperties(from: &bad) }
    }

    @Test func shortStringsOver255BytesAreRefused() throws {
        let long = Bytes([UInt8](repeating: 65, count: 256))
        var writer = ByteWriter()
        #expect(throws: WireError.valueTooLarge(context: "queue.declare queue")) {
            try Method.queueDeclare(QueueDeclare(queue: long)).encode(into: &writer)
        }
    }

    @Test func bodiesSplitAtFrameMaxMinus8() throws {
        let body = [UInt8](repeating: 1, count: 10_000)
        var writer = ByteWriter()
        try body.withUnsafeBytes {
            try writer.writeContent(channel: 1, method: .basicPublish(BasicPublish(exchange: "", routingKey: "q")),
                                    properties: BasicProperties(), body: $0, frameMax: 4096)
        }
        var parser = FrameParser(frameMax: 4096)
        try parser.append(writer.buffer)
        var sizes: [Int] = []
        while let frame = try parser.next() { if case .body(_, let b) = frame { sizes.append(b.count) } }
        #expect(sizes == [4088, 4088, 1824])
    }
}
