import Testing
@testable import AMQPEngine
@testable import AMQPWire

/// Plays the broker through a loss and a reconnect.
@Suite struct RecoveryTests {
    private func recoveringServer() -> ServerScript {
        ServerScript { $0.recovery = RecoveryPolicy() }
    }

    /// Sends `method` as the application would and answers it with `reply`.
    private func call(_ server: inout ServerScript, _ method: Method, on channel: UInt16, reply: Method) throws {
        let id = server.request()
        try server.drive { $0.call(method, channel: channel, noWait: false, request: id, into: &$1) }
        try server.serverSends(channel: channel, reply)
        _ = server.takeSent()
        _ = server.takeEvents()
    }

    /// Handshake on the new connection.
    private func reconnect(_ server: inout ServerScript) throws {
        let now = server.now
        try server.drive { $0.resume(now: now, into: &$1) }
        try server.serverSends(.connectionStart(ConnectionStart(serverProperties: [:], mechanisms: "PLAIN")))
        try server.serverSends(.connectionTune(ConnectionTune(channelMax: 2047, frameMax: 131_072, heartbeat: 60)))
        _ = server.takeSent()
        try server.serverSends(.connectionOpenOk(ConnectionOpenOk()))
    }

    @Test func topologyIsRestoredAndServerNamedQueuesAreFollowed() throws {
        var server = recoveringServer()
        try server.open()
        let channel = try server.openChannel()
        try call(&server, .basicQos(BasicQos(prefetchCount: 10)), on: channel, reply: .basicQosOk(BasicQosOk()))
        try call(&server, .exchangeDeclare(ExchangeDeclare(exchange: "ex", type: "direct", durable: true)), on: channel,
                 reply: .exchangeDeclareOk(ExchangeDeclareOk()))
        try call(&server, .queueDeclare(QueueDeclare(queue: "", exclusive: true)), on: channel,
                 reply: .queueDeclareOk(QueueDeclareOk(queue: "amq.gen-old", messageCount: 0, consumerCount: 0)))
        try call(&server, .queueBind(QueueBind(queue: "amq.gen-old", exchange: "ex", routingKey: "k")), on: channel,
                 reply: .queueBindOk(QueueBindOk()))
        try call(&server, .basicConsume(BasicConsume(queue: "amq.gen-old", consumerTag: "")), on: channel,
                 reply: .basicConsumeOk(BasicConsumeOk(consumerTag: "ctag-1")))

        try server.drive { $0.connectionLost(AMQPError(.connectionLost, "reset"), into: &$1) }
        #expect(server.engine.state == .recovering)
        #expect(server.socketClosed)
        let started = server.takeEvents()
        #expect(started.contains { if case .recoveryStarted = $0 { return true } else { return false } })
        #expect(!started.contains { $0.isConnectionClosed })

        try reconnect(&server)
        // Each step waits for its reply before the next goes out.
        #expect(server.takeSent() == [.method(channel: channel, .channelOpen(ChannelOpen()))])
        try server.serverSends(channel: channel, .channelOpenOk(ChannelOpenOk()))
        #expect(server.takeSent() == [.method(channel: channel, .basicQos(BasicQos(prefetchCount: 10)))])
        try server.serverSends(channel: channel, .basicQosOk(BasicQosOk()))
        #expect(server.takeSent() == [.method(channel: channel, .exchangeDeclare(ExchangeDeclare(exchange: "ex", type: "direct", durable: true)))])
        try server.serverSends(channel: channel, .exchangeDeclareOk(ExchangeDeclareOk()))
        #expect(server.takeSent() == [.method(channel: channel, .queueDeclare(QueueDeclare(queue: "", exclusive: true)))])
        try server.serverSends(channel: channel, .queueDeclareOk(QueueDeclareOk(queue: "amq.gen-new", messageCount: 0, consumerCount: 0)))
        #expect(server.takeSent() == [.method(channel: channel, .queueBind(QueueBind(queue: "amq.gen-new", exchange: "ex", routingKey: "k")))])
        try server.serverSends(channel: channel, .queueBindOk(QueueBindOk()))
        #expect(server.takeSent() == [.method(channel: channel, .basicConsume(BasicConsume(queue: "amq.gen-new", consumerTag: "ctag-1")))])
        try server.serverSends(channel: channel, .basicConsumeOk(BasicConsumeOk(consumerTag: "ctag-1")))
        #expect(server.takeEvents().contains { if case .recovered(0) = $0 { return true } else { return false } })
        #expect(!server.engine.recoveryActive)
        #expect(server.engine.isChannelOpen(channel))
    }

    @Test func deliveryTagsStayMonotonicAndStaleAcksAreRefused() throws {
        var server = recoveringServer()
        try server.open()
        let channel = try server.openChannel()
        for tag in UInt64(1)...3 {
            try server.serverSends(channel: channel, .basicDeliver(BasicDeliver(consumerTag: "c", deliveryTag: tag, exchange: "", routingKey: "q")))
            try server.serverSends(.header(channel: channel, ContentHeader(bodySize: 0, properties: BasicProperties())))
        }
        _ = server.takeEvents()
        try server.drive { $0.connectionLost(AMQPError(.connectionLost, "reset"), into: &$1) }
        try reconnect(&server)
        try server.serverSends(channel: channel, .channelOpenOk(ChannelOpenOk()))
        _ = server.takeEvents()
        _ = server.takeSent()
        try server.serverSends(channel: channel, .basicDeliver(BasicDeliver(consumerTag: "c", deliveryTag: 1, exchange: "", routingKey: "q")))
        try server.serverSends(.header(channel: channel, ContentHeader(bodySize: 0, properties: BasicProperties())))
        let tags = server.takeEvents().compactMap { if case .delivery(let m) = $0 { return m.deliveryTag } else { return nil } }
        #expect(tags == [4])
        var stale: AMQPError?
        try server.drive { stale = $0.acknowledge(.ack, deliveryTag: 2, multiple: false, channel: channel, into: &$1) }
        #expect(stale?.kind == .staleDeliveryTag)
        #expect(server.takeSent().isEmpty)
        var fresh: AMQPError?
        try server.drive { fresh = $0.acknowledge(.ack, deliveryTag: 4, multiple: false, channel: channel, into: &$1) }
        #expect(fresh == nil)
        #expect(server.takeSent() == [.method(channel: channel, .basicAck(BasicAck(deliveryTag: 1, multiple: false)))])
    }

    /// A second loss while consumers are being restored: tags delivered on the connection that
    /// was lost mid-recovery are not issued again, and acking one is refused as stale.
    @Test func tagsSeenDuringAPartialRecoveryAreNotIssuedTwice() throws {
        var server = recoveringServer()
        try server.open()
        let first = try server.openChannel()
        let second = try server.openChannel()
        try call(&server, .basicConsume(BasicConsume(queue: "q1", consumerTag: "c1")), on: first,
                 reply: .basicConsumeOk(BasicConsumeOk(consumerTag: "c1")))
        try call(&server, .basicConsume(BasicConsume(queue: "q2", consumerTag: "c2")), on: second,
                 reply: .basicConsumeOk(BasicConsumeOk(consumerTag: "c2")))
        func deliver(_ tag: UInt64, on channel: UInt16) throws -> UInt64? {
            try server.serverSends(channel: channel, .basicDeliver(BasicDeliver(consumerTag: "c1", deliveryTag: tag, exchange: "", routingKey: "q1")))
            try server.serverSends(.header(channel: channel, ContentHeader(bodySize: 0, properties: BasicProperties())))
            return server.takeEvents().compactMap { if case .delivery(let m) = $0 { return m.deliveryTag } else { return nil } }.first
        }
        #expect(try deliver(1, on: first) == 1)
        try server.drive { $0.connectionLost(AMQPError(.connectionLost, "reset"), into: &$1) }
        try reconnect(&server)
        // Channels reopen, then consumer c1 is restored and delivers before c2's step is answered.
        try server.serverSends(channel: first, .channelOpenOk(ChannelOpenOk()))
        try server.serverSends(channel: second, .channelOpenOk(ChannelOpenOk()))
        try server.serverSends(channel: first, .basicConsumeOk(BasicConsumeOk(consumerTag: "c1")))
        #expect(server.engine.recoveryActive)
        let seenMidRecovery = try deliver(1, on: first)
        #expect(seenMidRecovery == 2)
        // Lost again before recovery finished.
        try server.drive { $0.connectionLost(AMQPError(.connectionLost, "reset again"), into: &$1) }
        try reconnect(&server)
        try server.serverSends(channel: first, .channelOpenOk(ChannelOpenOk()))
        try server.serverSends(channel: second, .channelOpenOk(ChannelOpenOk()))
        try server.serverSends(channel: first, .basicConsumeOk(BasicConsumeOk(consumerTag: "c1")))
        try server.serverSends(channel: second, .basicConsumeOk(BasicConsumeOk(consumerTag: "c2")))
        _ = server.takeEvents()
        _ = server.takeSent()
        #expect(!server.engine.recoveryActive)
        #expect(try deliver(1, on: first) == 3)
        var stale: AMQPError?
        try server.drive { stale = $0.acknowledge(.ack, deliveryTag: 2, multiple: false, channel: first, into: &$1) }
        #expect(stale?.kind == .staleDeliveryTag)
        #expect(server.takeSent().isEmpty)
    }

    /// The broker closing another channel while a step runs is that channel's close, not the
    /// step's failure.
    @Test func aChannelCloseElsewhereIsNotBlamedOnTheCurrentStep() throws {
        var server = recoveringServer()
        try server.open()
        let first = try server.openChannel()
        let second = try server.openChannel()
        try call(&server, .queueDeclare(QueueDeclare(queue: "a", durable: true)), on: first,
                 reply: .queueDeclareOk(QueueDeclareOk(queue: "a", messageCount: 0, consumerCount: 0)))
        try server.drive { $0.connectionLost(AMQPError(.connectionLost, "reset"), into: &$1) }
        try reconnect(&server)
        try server.serverSends(channel: first, .channelOpenOk(ChannelOpenOk()))
        try server.serverSends(channel: second, .channelOpenOk(ChannelOpenOk()))
        #expect(server.takeSent().last == .method(channel: first, .queueDeclare(QueueDeclare(queue: "a", durable: true))))
        _ = server.takeEvents()
        // While queue a's declare is outstanding on the first channel, the broker closes the second.
        try server.serverSends(channel: second, .channelClose(ChannelClose(replyCode: 406, replyText: "PRECONDITION_FAILED - elsewhere", classId: 60, methodId: 80)))
        let events = server.takeEvents()
        #expect(!events.contains { if case .recoveryEntityFailed = $0 { return true } else { return false } })
        #expect(events.contains { if case .channelClosed(second, let error, _) = $0 { return error?.replyCode == 406 } else { return false } })
        try server.serverSends(channel: first, .queueDeclareOk(QueueDeclareOk(queue: "a", messageCount: 0, consumerCount: 0)))
        #expect(server.takeEvents().contains { if case .recovered(0) = $0 { return true } else { return false } })
    }

    @Test func confirmSequencesContinueAndLossFailsTheUnconfirmed() throws {
        var server = recoveringServer()
        try server.open()
        let channel = try server.openChannel()
        try call(&server, .confirmSelect(ConfirmSelect()), on: channel, reply: .confirmSelectOk(ConfirmSelectOk()))
        func publish() throws -> UInt64 {
            var sequence: UInt64 = 0
            try server.drive { engine, out in
                sequence = (try? [UInt8]().withUnsafeBytes {
                    engine.publish(BasicPublish(exchange: "", routingKey: "q"), properties: BasicProperties(), body: $0, channel: channel, into: &out)
                }.get()) ?? 0
            }
            return sequence
        }
        #expect(try publish() == 1)
        #expect(try publish() == 2)
        try server.drive { $0.connectionLost(AMQPError(.connectionLost, "reset"), into: &$1) }
        #expect(server.takeEvents().contains { if case .confirmsFailed(channel, 2, _) = $0 { return true } else { return false } })
        try reconnect(&server)
        try server.serverSends(channel: channel, .channelOpenOk(ChannelOpenOk()))
        #expect(server.takeSent().contains(.method(channel: channel, .confirmSelect(ConfirmSelect()))))
        try server.serverSends(channel: channel, .confirmSelectOk(ConfirmSelectOk()))
        #expect(try publish() == 3)
        _ = server.takeEvents()
        try server.serverSends(channel: channel, .basicAck(BasicAck(deliveryTag: 1, multiple: false)))
        #expect(server.takeEvents().contains { if case .confirm(channel, true, 3, false) = $0 { return true } else { return false } })
    }

    @Test func aFailingEntityIsReportedAndRecoveryGoesOn() throws {
        var server = recoveringServer()
        try server.open()
        let channel = try server.openChannel()
        try call(&server, .queueDeclare(QueueDeclare(queue: "a", durable: true)), on: channel,
                 reply: .queueDeclareOk(QueueDeclareOk(queue: "a", messageCount: 0, consumerCount: 0)))
        try call(&server, .queueDeclare(QueueDeclare(queue: "b", durable: true)), on: channel,
                 reply: .queueDeclareOk(QueueDeclareOk(queue: "b", messageCount: 0, consumerCount: 0)))
        try server.drive { $0.connectionLost(AMQPError(.connectionLost, "reset"), into: &$1) }
        try reconnect(&server)
        try server.serverSends(channel: channel, .channelOpenOk(ChannelOpenOk()))
        _ = server.takeSent()
        try server.serverSends(channel: channel, .channelClose(ChannelClose(replyCode: 406, replyText: "PRECONDITION_FAILED - inequivalent arg", classId: 50, methodId: 10)))
        // close-ok, then the channel is reopened and queue b follows.
        #expect(server.takeSent() == [.method(channel: channel, .channelCloseOk(ChannelCloseOk())), .method(channel: channel, .channelOpen(ChannelOpen()))])
        try server.serverSends(channel: channel, .channelOpenOk(ChannelOpenOk()))
        #expect(server.takeSent() == [.method(channel: channel, .queueDeclare(QueueDeclare(queue: "b", durable: true)))])
        try server.serverSends(channel: channel, .queueDeclareOk(QueueDeclareOk(queue: "b", messageCount: 0, consumerCount: 0)))
        let events = server.takeEvents()
        #expect(events.contains { if case .recoveryEntityFailed(let entity, let error) = $0 { return entity == "queue 'a'" && error.replyCode == 406 } else { return false } })
        #expect(events.contains { if case .recovered(1) = $0 { return true } else { return false } })
    }

    @Test func requestsDuringRecoveryFailAndPublishesPause() throws {
        var server = recoveringServer()
        try server.open()
        let channel = try server.openChannel()
        try server.drive { $0.connectionLost(AMQPError(.connectionLost, "reset"), into: &$1) }
        #expect(server.engine.publishPause(channel) != nil)
        let id = server.request()
        try server.drive { $0.call(.queueDeclare(QueueDeclare(queue: "q")), channel: channel, noWait: false, request: id, into: &$1) }
        guard case .failure(let error)? = server.takeEvents().compactMap({ $0.completionResult }).first?.1 else { Issue.record("no failure"); return }
        #expect(error.kind == .recovering)
    }

    @Test func noRecoveryWithoutThePolicyOrForTheApplicationsClose() throws {
        var plain = ServerScript()
        try plain.open()
        try plain.drive { $0.connectionLost(AMQPError(.connectionLost, "reset"), into: &$1) }
        #expect(plain.engine.state == .closed)

        var server = recoveringServer()
        try server.open()
        let close = server.request()
        let now = server.now
        try server.drive { $0.close(request: close, timeoutMs: 1_000, now: now, into: &$1) }
        try server.drive { $0.connectionLost(AMQPError(.connectionLost, "eof"), into: &$1) }
        #expect(server.engine.state == .closed)
    }

    @Test func backoffDoublesUpToTheCapWithJitter() {
        var policy = RecoveryPolicy()
        policy.initialDelayMs = 100
        policy.maxDelayMs = 1000
        #expect(policy.delayMs(attempt: 0, random: 0) == 100)
        #expect(policy.delayMs(attempt: 3, random: 0) == 800)
        #expect(policy.delayMs(attempt: 10, random: 0) == 1000)
        for seed in UInt64(0)..<100 {
            let delay = policy.delayMs(attempt: 2, random: seed &* 7919)
            #expect(delay >= 200 && delay <= 400)
        }
    }
}
