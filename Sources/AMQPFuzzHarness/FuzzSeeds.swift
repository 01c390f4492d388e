import AMQPWire

/// Valid (and a few deliberately broken) inputs for the fuzz harness, built with the codec: the
/// starting corpus of scripts/fuzz, and replayed by the regression test.
public enum FuzzSeeds {
    /// A field table with every type tag RabbitMQ sends plus 'L', nested.
    public static let everyTag: FieldTable = [
        "t": .bool(true), "b": .int8(-128), "B": .uint8(255), "s": .int16(-32768), "u": .uint16(65535),
        "I": .int32(Int32.min), "i": .uint32(UInt32.max), "l": .int64(Int64.min), "L": .uint64(42), // sent as 'l'; the fuzzer finds 'L'
       
        "f": .float(-0.0), "d": .double(Double.nan), "D": .decimal(scale: 2, value: 12345),
        "S": .longString("long \u{00e9} string"), "x": .byteArray(Bytes([0, 0xff, 0xc0, 0x80])),
        "A": .array([.int32(1), .longString("two"), .array([.void]), .table(["k": .bool(false)])]),
        "T": .timestamp(1_700_000_000), "F": .table(["nested": .table(["deeper": .int64(7)])]), "V": .void,
    ]

    /// What RabbitMQ 3.x sends in connection.start, in short.
    public static let serverProperties: FieldTable = [
        "capabilities": .table([
            "publisher_confirms": .bool(true), "exchange_exchange_bindings": .bool(true), "basic.nack": .bool(true),
            "consumer_cancel_notify": .bool(true), "connection.blocked": .bool(true),
            "authentication_failure_close": .bool(true), "per_consumer_qos": .bool(true), "direct_reply-to": .bool(true),
        ]),
        "cluster_name": .longString("rabbit@localhost"), "product": .longString("RabbitMQ"),
        "version": .longString("3.10.8"), "platform": .longString("Erlang/OTP 25"),
    ]

    static let allProperties = BasicProperties(
        contentType: "application/json", contentEncoding: "gzip", headers: everyTag, deliveryMode: 2, priority: 9,
        correlationId: "corr", replyTo: "amq.rabbitmq.reply-to", expiration: "60000", messageId: "m-1",
        timestamp: 1_700_000_000, type: "t", userId: "guest", appId: "app", clusterId: "")

    /// One of every method, with representative arguments.
    static let everyMethod: [Method] = [
        .connectionStart(ConnectionStart(serverProperties: serverProperties, mechanisms: "AMQPLAIN PLAIN")),
        .connectionStartOk(ConnectionStartOk(clientProperties: everyTag, response: Bytes([0, 103, 0, 103]))),
        .connectionSecure(ConnectionSecure(challenge: "c")), .connectionSecureOk(ConnectionSecureOk(response: "r")),
        .connectionTune(ConnectionTune(channelMax: 2047, frameMax: 131_072, heartbeat: 60)),
        .connectionTuneOk(ConnectionTuneOk(channelMax: 2047, frameMax: 131_072, heartbeat: 60)),
        .connectionOpen(ConnectionOpen(virtualHost: "/")), .connectionOpenOk(ConnectionOpenOk()),
        .connectionClose(ConnectionClose(replyCode: 320, replyText: "CONNECTION_FORCED", classId: 0, methodId: 0)),
        .connectionCloseOk(ConnectionCloseOk()), .connectionBlocked(ConnectionBlocked(reason: "low on memory")),
        .connectionUnblocked(ConnectionUnblocked()),
        .connectionUpdateSecret(ConnectionUpdateSecret(newSecret: "s", reason: "r")),
        .connectionUpdateSecretOk(ConnectionUpdateSecretOk()),
        .channelOpen(ChannelOpen()), .channelOpenOk(ChannelOpenOk()), .channelFlow(ChannelFlow(active: false)),
        .channelFlowOk(ChannelFlowOk(active: true)),
        .channelClose(ChannelClose(replyCode: 404, replyText: "NOT_FOUND", classId: 50, methodId: 10)),
        .channelCloseOk(ChannelCloseOk()), .accessRequest(AccessRequest()), .accessRequestOk(AccessRequestOk()),
        .exchangeDeclare(ExchangeDeclare(exchange: "x", durable: true, arguments: everyTag)),
        .exchangeDeclareOk(ExchangeDeclareOk()), .exchangeDelete(ExchangeDelete(exchange: "x")),
        .exchangeDeleteOk(ExchangeDeleteOk()),
        .exchangeBind(ExchangeBind(destination: "a", source: "b", arguments: FieldTable())),
        .exchangeBindOk(ExchangeBindOk()),
        .exchangeUnbind(ExchangeUnbind(destination: "a", source: "b", arguments: FieldTable())),
        .exchangeUnbindOk(ExchangeUnbindOk()),
        .queueDeclare(QueueDeclare(queue: "q", durable: true, arguments: ["x-queue-type": .longString("quorum")])),
        .queueDeclareOk(QueueDeclareOk(queue: "amq.gen-1", messageCount: 3, consumerCount: 1)),
        .queueBind(QueueBind(queue: "q", exchange: "x", arguments: FieldTable())), .queueBindOk(QueueBindOk()),
        .queuePurge(QueuePurge(queue: "q")), .queuePurgeOk(QueuePurgeOk(messageCount: 5)),
        .queueDelete(QueueDelete(queue: "q")), .queueDeleteOk(QueueDeleteOk(messageCount: 0)),
        .queueUnbind(QueueUnbind(queue: "q", exchange: "x", arguments: FieldTable())), .queueUnbindOk(QueueUnbindOk()),
        .basicQos(BasicQos(prefetchCount: 10)), .basicQosOk(BasicQosOk()),
        .basicConsume(BasicConsume(queue: "q", arguments: FieldTable())),
        .basicConsumeOk(BasicConsumeOk(consumerTag: "amq.ctag-1")),
        .basicCancel(BasicCancel(consumerTag: "amq.ctag-1")), .basicCancelOk(BasicCancelOk(consumerTag: "amq.ctag-1")),
        .basicPublish(BasicPublish(exchange: "", routingKey: "q", mandatory: true)),
        .basicReturn(BasicReturn(replyCode: 312, replyText: "NO_ROUTE", exchange: "", routingKey: "q")),
        .basicDeliver(BasicDeliver(consumerTag: "amq.ctag-1", deliveryTag: 1, exchange: "", routingKey: "q")),
        .basicGet(BasicGet(queue: "q")),
        .basicGetOk(BasicGetOk(deliveryTag: 2, exchange: "", routingKey: "q", messageCount: 0)),
        .basicGetEmpty(BasicGetEmpty()), .basicAck(BasicAck(deliveryTag: 1, multiple: true)),
        .basicReject(BasicReject(deliveryTag: 1)), .basicRecoverAsync(BasicRecoverAsync()),
        .basicRecover(BasicRecover()), .basicRecoverOk(BasicRecoverOk()), .basicNack(BasicNack(deliveryTag: 3)),
        .txSelect(TxSelect()), .txSelectOk(TxSelectOk()), .txCommit(TxCommit()), .txCommitOk(TxCommitOk()),
        .txRollback(TxRollback()), .txRollbackOk(TxRollbackOk()),
        .confirmSelect(ConfirmSelect()), .confirmSelectOk(ConfirmSelectOk()),
    ]

    /// The bytes of `frames` as a broker would send them.
    static func stream(_ frames: [Frame]) -> [UInt8] {
        var out: [UInt8] = []
        for frame in frames {
            // The harness's encoder; a frame it refuses (none here) is left out whole.
            if let bytes = FuzzHarness.encode(frame) { out += bytes }
        }
        return out
    }

    static func message(_ channel: UInt16, _ method: Method, _ properties: BasicProperties, body: [UInt8], chunk: Int) -> [Frame] {
        // The seeds' properties all encode; none would be a seed without them.
        let header = (try? ContentHeader(bodySize: UInt64(body.count), properties: properties))
            ?? ContentHeader(bodySize: UInt64(body.count), encodedProperties: ContentHeader.noProperties)
        var frames: [Frame] = [.method(channel: channel, method), .header(channel: channel, header)]
        var start = 0
        while start < body.count {
            let end = min(start + chunk, body.count)
            frames.append(.body(channel: channel, Bytes(Array(body[start..<end]))))
            start = end
        }
        return frames
    }

    static func input(stage: FuzzHarness.Stage, parserOnly: Bool = false, split: UInt8 = 0, tune: UInt8 = 248,
                      heartbeat: UInt8 = 0, messageLimit: UInt8 = 1, _ bytes: [UInt8]) -> [UInt8] {
        [stage.rawValue | (parserOnly ? 8 : 0) | split << 4, tune, heartbeat & 15 | (messageLimit & 3) << 4] + bytes
    }

    /// Tokens for libFuzzer's dictionary: frame headers, every method's class and method ids, the
    /// frame end, the table tags with a one-letter key, property flag words.
    public static func dictionary() -> [[UInt8]] {
        var tokens: [[UInt8]] = [protocolHeader, [AMQPConstants.frameEnd], [0xff, 0xfc], [0x80, 0x00], [0x20, 0x00]]
        for type in [AMQPConstants.frameMethod, AMQPConstants.frameHeader, AMQPConstants.frameBody, AMQPConstants.frameHeartbeat] {
            tokens.append([type, 0, 0])
            tokens.append([type, 0, 1])
        }
        for method in everyMethod {
            tokens.append([UInt8(method.classID >> 8), UInt8(method.classID & 0xff), UInt8(method.methodID >> 8), UInt8(method.methodID & 0xff)])
        }
        for tag in "tbBsuIilLfdDSxATFV".utf8 { tokens.append([1, UInt8(ascii: "k"), tag]) }
        return tokens
    }

    /// The starting corpus: (name, input).
    public static func all() -> [(String, [UInt8])] {
        let deliver = Method.basicDeliver(BasicDeliver(consumerTag: "amq.ctag-1", deliveryTag: 1, exchange: "ex", routingKey: "rk"))
        let body = Array("0123456789abcdef".utf8)
        let big = (0..<20_000).map { UInt8(truncatingIfNeeded: $0) }
        let delivery = message(1, deliver, allProperties, body: body, chunk: 16)
        let split = message(1, deliver, BasicProperties(contentType: "text/plain"), body: big, chunk: 4000)
        let empty = message(1, deliver, BasicProperties(), body: [], chunk: 1)
        let returned = message(1, .basicReturn(BasicReturn(replyCode: 312, replyText: "NO_ROUTE", exchange: "", routingKey: "q")),
                               BasicProperties(), body: body, chunk: 5)
        let getOk = message(1, .basicGetOk(BasicGetOk(deliveryTag: 9, exchange: "", routingKey: "q", messageCount: 0)),
                            BasicProperties(headers: everyTag), body: body, chunk: 16)
        let handshake: [Frame] = [
            .method(channel: 0, .connectionStart(ConnectionStart(serverProperties: serverProperties, mechanisms: "AMQPLAIN PLAIN"))),
            .method(channel: 0, .connectionTune(ConnectionTune(channelMax: 2047, frameMax: 131_072, heartbeat: 60))),
            .method(channel: 0, .connectionOpenOk(ConnectionOpenOk())),
        ]
        let connectionEvents: [Frame] = [
            .heartbeat, .method(channel: 0, .connectionBlocked(ConnectionBlocked(reason: "low on memory"))),
            .method(channel: 0, .connectionUnblocked(ConnectionUnblocked())),
            .method(channel: 0, .connectionUpdateSecretOk(ConnectionUpdateSecretOk())),
        ]
        let channelEvents: [Frame] = delivery + split + empty + returned + [
            .method(channel: 1, .channelFlow(ChannelFlow(active: false))), .heartbeat,
            .method(channel: 1, .channelFlow(ChannelFlow(active: true))),
            .method(channel: 1, .basicCancel(BasicCancel(consumerTag: "amq.ctag-1"))),
        ]
        let busyReplies: [Frame] = [
            .method(channel: 1, .basicAck(BasicAck(deliveryTag: 1))),
            .method(channel: 1, .basicNack(BasicNack(deliveryTag: 2))),
            .method(channel: 1, .basicAck(BasicAck(deliveryTag: 3, multiple: true))),
        ] + getOk + [
            .method(channel: 1, .queueDeclareOk(QueueDeclareOk(queue: "amq.gen-1", messageCount: 0, consumerCount: 0))),
            .method(channel: 2, .basicQosOk(BasicQosOk())),
            .method(channel: 3, .channelOpenOk(ChannelOpenOk())),
        ] + message(2, deliver, BasicProperties(), body: body, chunk: 8) + delivery
        let closes: [Frame] = [
            .method(channel: 1, .channelClose(ChannelClose(replyCode: 406, replyText: "PRECONDITION_FAILED", classId: 60, methodId: 40))),
            .method(channel: 0, .connectionClose(ConnectionClose(replyCode: 320, replyText: "CONNECTION_FORCED", classId: 0, methodId: 0))),
        ]

        var seeds: [(String, [UInt8])] = []
        let everyFrame = stream(everyMethod.map { .method(channel: 1, $0) } + delivery + getOk + [.heartbeat])
        seeds.append(("parser-every-method", input(stage: .awaitingStart, parserOnly: true, everyFrame)))
        seeds.append(("parser-every-method-split", input(stage: .awaitingStart, parserOnly: true, split: 5, everyFrame)))
        seeds.append(("parser-big-body", input(stage: .awaitingStart, parserOnly: true, tune: 40, stream(split))))
        seeds.append(("handshake", input(stage: .awaitingStart, stream(handshake + connectionEvents))))
        seeds.append(("handshake-split", input(stage: .awaitingStart, split: 3, stream(handshake + connectionEvents))))
        seeds.append(("handshake-plain-only", input(stage: .awaitingStart, stream([
            .method(channel: 0, .connectionStart(ConnectionStart(serverProperties: FieldTable(), mechanisms: "PLAIN"))),
            .method(channel: 0, .connectionTune(ConnectionTune(channelMax: 0, frameMax: 0, heartbeat: 0))),
            .method(channel: 0, .connectionOpenOk(ConnectionOpenOk())),
        ]))))
        seeds.append(("tune-small-frame-max", input(stage: .awaitingTune, stream([
            .method(channel: 0, .connectionTune(ConnectionTune(channelMax: 1, frameMax: 4095, heartbeat: 1))),
        ]))))
        seeds.append(("auth-refused", input(stage: .awaitingOpenOk, stream([
            .method(channel: 0, .connectionClose(ConnectionClose(replyCode: 403, replyText: "ACCESS_REFUSED", classId: 0, methodId: 0))),
        ]))))
        seeds.append(("open-events", input(stage: .awaitingOpenOk, heartbeat: 5, stream([handshake[2]] + connectionEvents + [closes[1]]))))
        seeds.append(("channel-deliveries", input(stage: .channel, stream(channelEvents + [closes[0]]))))
        seeds.append(("channel-deliveries-split", input(stage: .channel, split: 9, tune: 0, messageLimit: 0, stream(channelEvents))))
        seeds.append(("busy-replies", input(stage: .busy, stream(busyReplies + channelEvents + closes))))
        seeds.append(("busy-replies-split", input(stage: .busy, split: 12, heartbeat: 1, stream(busyReplies))))
        seeds.append(("closing", input(stage: .closing, stream(delivery + [.method(channel: 0, .connectionCloseOk(ConnectionCloseOk()))]))))
        seeds.append(("channel-closing", input(stage: .channelClosing, stream(delivery + [
            .method(channel: 1, .channelCloseOk(ChannelCloseOk())),
        ] + busyReplies))))
        seeds.append(("message-too-large", input(stage: .channel, messageLimit: 3, stream(delivery))))

        // Broken streams: each must end in a typed error and a connection.close, never a trap.
        var broken: [(String, [UInt8])] = []
        var tooLarge = stream([.heartbeat])
        tooLarge[3] = 0x7f // size 0x7f000000
        broken.append(("frame-too-large", tooLarge))
        var badEnd = stream([handshake[0]])
        badEnd[badEnd.count - 1] = 0xcd
        broken.append(("bad-frame-end", badEnd))
        broken.append(("unknown-method", [1, 0, 1, 0, 0, 0, 4, 0, 99, 0, 1, 0xce]))
        broken.append(("truncated-arguments", [1, 0, 1, 0, 0, 0, 5, 0, 60, 0, 60, 5, 0xce]))
        broken.append(("header-unknown-flags", [2, 0, 1, 0, 0, 0, 14, 0, 60, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 0, 1, 0xce]))
        broken.append(("header-huge-body", stream([.method(channel: 1, deliver),
                                                   .header(channel: 1, ContentHeader(bodySize: UInt64.max, encodedProperties: ContentHeader.noProperties))])))
        broken.append(("body-without-header", stream([.body(channel: 1, Bytes(body))])))
        broken.append(("content-on-channel-0", stream([.header(channel: 0, ContentHeader(bodySize: 1, encodedProperties: ContentHeader.noProperties))])))
        broken.append(("unknown-frame-type", [9, 0, 0, 0, 0, 0, 0, 0xce]))
        for (name, bytes) in broken {
            seeds.append(("broken-\(name)", input(stage: .channel, bytes)))
            seeds.append(("broken-\(name)-parser", input(stage: .awaitingStart, parserOnly: true, bytes)))
        }
        return seeds
    }
}
