import Testing
@testable import AMQPEngine
@testable import AMQPWire

private func publish(_ server: inout ServerScript, _ channel: UInt16) throws -> UInt64 {
    var sequence: UInt64 = 0
    try server.drive { engine, out in
        let body: [UInt8] = [1, 2, 3]
        sequence = (try? body.withUnsafeBytes {
            engine.publish(BasicPublish(exchange: "", routingKey: "q"), properties: BasicProperties(), body: $0, channel: channel, into: &out)
        }.get()) ?? 0
    }
    return sequence
}

@Suite struct ConfirmTests {
    @Test func publishesAreNumberedAfterConfirmSelect() throws {
        var server = ServerScript()
        try server.open()
        let channel = try server.openChannel()
        #expect(try publish(&server, channel) == 0)
        let select = server.request()
        try server.drive { $0.call(.confirmSelect(ConfirmSelect()), channel: channel, noWait: false, request: select, into: &$1) }
        try server.serverSends(channel: channel, .confirmSelectOk(ConfirmSelectOk()))
        #expect(try publish(&server, channel) == 1)
        #expect(try publish(&server, channel) == 2)
        #expect(try publish(&server, channel) == 3)
    }

    @Test func waitCompletesWhenEverythingIsAckedAndReportsNacks() throws {
        var server = ServerScript()
        try server.open()
        let channel = try server.openChannel()
        let select = server.request()
        try server.drive { $0.call(.confirmSelect(ConfirmSelect()), channel: channel, noWait: false, request: select, into: &$1) }
        try server.serverSends(channel: channel, .confirmSelectOk(ConfirmSelectOk()))
        for _ in 0..<5 { _ = try publish(&server, channel) }
        _ = server.takeEvents()
        let wait = server.request()
        try server.drive { $0.waitForConfirms(channel: channel, request: wait, into: &$1) }
        #expect(server.takeEvents().isEmpty)
        try server.serverSends(channel: channel, .basicAck(BasicAck(deliveryTag: 3, multiple: true)))
        try server.serverSends(channel: channel, .basicNack(BasicNack(deliveryTag: 5, multiple: false, requeue: false)))
        #expect(server.takeEvents().compactMap { $0.completionResult }.isEmpty)
        try server.serverSends(channel: channel, .basicAck(BasicAck(deliveryTag: 4, multiple: false)))
        let result = server.takeEvents().compactMap { $0.completionResult }.first { $0.0 == wait }
        guard case .failure(let error)? = result?.1 else { Issue.record("wait did not report the nack"); return }
        #expect(error.kind == .nacked)
        #expect(server.engine.counters.confirmsAcked == 4 && server.engine.counters.confirmsNacked == 1)
        // The nack was reported once; the next wait with nothing outstanding succeeds.
        let again = server.request()
        try server.drive { $0.waitForConfirms(channel: channel, request: again, into: &$1) }
        guard case .success? = server.takeEvents().compactMap({ $0.completionResult }).first?.1 else { Issue.record("second wait"); return }
    }

    @Test func waitWithoutConfirmModeFails() throws {
        var server = ServerScript()
        try server.open()
        let channel = try server.openChannel()
        let wait = server.request()
        try server.drive { $0.waitForConfirms(channel: channel, request: wait, into: &$1) }
        guard case .failure(let error)? = server.takeEvents().compactMap({ $0.completionResult }).first?.1 else { Issue.record("no failure"); return }
        #expect(error.kind == .notConfirmMode)
    }

    @Test func unconfirmedPublishesFailWhenTheConnectionIsLost() throws {
        var server = ServerScript()
        try server.open()
        let channel = try server.openChannel()
        let select = server.request()
        try server.drive { $0.call(.confirmSelect(ConfirmSelect()), channel: channel, noWait: false, request: select, into: &$1) }
        try server.serverSends(channel: channel, .confirmSelectOk(ConfirmSelectOk()))
        for _ in 0..<3 { _ = try publish(&server, channel) }
        try server.serverSends(channel: channel, .basicAck(BasicAck(deliveryTag: 1, multiple: false)))
        _ = server.takeEvents()
        try server.drive { $0.connectionLost(AMQPError(.connectionLost, "reset"), into: &$1) }
        let failed = server.takeEvents().compactMap { event -> (UInt64, AMQPError)? in
            if case .confirmsFailed(channel, let upTo, let error) = event { return (upTo, error) }
            return nil
        }
        #expect(failed.count == 1 && failed.first?.0 == 3 && failed.first?.1.kind == .connectionLost)
    }

    @Test func maxUnconfirmedPausesPublishing() throws {
        var server = ServerScript { $0.maxUnconfirmed = 2 }
        try server.open()
        let channel = try server.openChannel()
        let select = server.request()
        try server.drive { $0.call(.confirmSelect(ConfirmSelect()), channel: channel, noWait: false, request: select, into: &$1) }
        _ = try publish(&server, channel)
        #expect(server.engine.publishPause(channel) == nil)
        _ = try publish(&server, channel)
        #expect(server.engine.publishPause(channel) != nil)
        try server.serverSends(channel: channel, .basicAck(BasicAck(deliveryTag: 1, multiple: false)))
        #expect(server.engine.publishPause(channel) == nil)
    }

    @Test func blockedAndFlowPausePublishing() throws {
        var server = ServerScript()
        try server.open()
        let channel = try server.openChannel()
        try server.serverSends(.connectionBlocked(ConnectionBlocked(reason: "low on memory")))
        #expect(server.engine.publishPause(channel)?.contains("blocked") == true)
        try server.serverSends(.connectionUnblocked(ConnectionUnblocked()))
        #expect(server.engine.publishPause(channel) == nil)
        try server.serverSends(channel: channel, .channelFlow(ChannelFlow(active: false)))
        #expect(server.engine.publishPause(channel)?.contains("flow") == true)
        try server.serverSends(channel: channel, .channelFlow(ChannelFlow(active: true)))
        #expect(server.engine.publishPause(channel) == nil)
    }

    @Test func confirmTrackerHandlesOutOfOrderSingleAcks() {
        var tracker = ConfirmTracker()
        for _ in 0..<10 { _ = tracker.issue() }
        #expect(tracker.confirm(5, multiple: false) == 1)
        #expect(tracker.confirm(5, multiple: false) == 0)
        #expect(tracker.confirm(3, multiple: true) == 3)
        #expect(tracker.unconfirmedCount == 6)
        #expect(tracker.confirm(10, multiple: true) == 6)
        #expect(tracker.highestUnconfirmed == nil)
    }
}

@Suite struct RawAndSecretTests {
    @Test func rawChannelsHandFramesOverUninterpreted() throws {
        var server = ServerScript()
        try server.open()
        let channel = try server.openChannel()
        try server.drive { engine, _ in _ = engine.setRaw(channel, true) }
        let declare = server.request()
        try server.drive { $0.call(.queueDeclare(QueueDeclare(queue: "q")), channel: channel, noWait: false, request: declare, into: &$1) }
        guard case .failure(let error)? = server.takeEvents().compactMap({ $0.completionResult }).first?.1 else { Issue.record("call allowed"); return }
        #expect(error.kind == .badState)
        try server.serverSends(channel: channel, .basicDeliver(BasicDeliver(consumerTag: "c", deliveryTag: 1, exchange: "", routingKey: "q")))
        try server.serverSends(.header(channel: channel, ContentHeader(bodySize: 2, properties: BasicProperties())))
        try server.serverSends(.body(channel: channel, "hi"))
        let raw = server.takeEvents().compactMap { if case .rawFrame(channel, let frame) = $0 { return frame } else { return nil } }
        #expect(raw.map(\.kind) == [.method, .header, .body])
        #expect(raw.first?.classID == 60 && raw.first?.methodID == 60)
        #expect(raw.last?.payload == "hi")
        // The application closes the channel itself; close-ok frees the number.
        try server.drive { engine, out in _ = engine.sendRaw(.channelClose(ChannelClose(replyCode: 200, replyText: "", classId: 0, methodId: 0)), channel: channel, into: &out) }
        try server.serverSends(channel: channel, .channelCloseOk(ChannelCloseOk()))
        #expect(try server.openChannel() == channel)
    }

    @Test func rawSendsOnChannelZeroAreRefused() throws {
        var server = ServerScript()
        try server.open()
        var error: AMQPError?
        try server.drive { engine, out in error = engine.sendRaw(.connectionClose(ConnectionClose(replyCode: 200, replyText: "", classId: 0, methodId: 0)), channel: 0, into: &out) }
        #expect(error?.kind == .badState)
    }

    @Test func updateSecretCompletesOnItsOk() throws {
        var server = ServerScript()
        try server.open()
        let id = server.request()
        try server.drive { $0.updateSecret("token", reason: "refresh", request: id, into: &$1) }
        #expect(server.takeSent() == [.method(channel: 0, .connectionUpdateSecret(ConnectionUpdateSecret(newSecret: "token", reason: "refresh")))])
        try server.serverSends(.connectionUpdateSecretOk(ConnectionUpdateSecretOk()))
        #expect(server.takeEvents().contains { $0.completionResult?.0 == id })
    }

    @Test func amqplainSendsLoginAndPasswordEntries() throws {
        var server = ServerScript { $0.authMechanism = .amqplain; $0.user = "u"; $0.password = "p" }
        let id = server.request()
        let now = server.now
        try server.drive { $0.start(request: id, now: now, into: &$1) }
        try server.serverSends(.connectionStart(ConnectionStart(serverProperties: [:], mechanisms: "PLAIN AMQPLAIN")))
        guard case .method(0, .connectionStartOk(let startOk))? = server.takeSent().first else { Issue.record("no start-ok"); return }
        #expect(startOk.mechanism == "AMQPLAIN")
        // The response is a table's entries without the length: wrap it to decode.
        var wrapped = ByteWriter()
        wrapped.writeUInt32(UInt32(startOk.response.count))
        wrapped.writeBytes(startOk.response)
        var reader = ByteReader(Bytes(wrapped.buffer))
        let table = try reader.readTable()
        #expect(table["LOGIN"] == .longString("u") && table["PASSWORD"] == .longString("p"))
    }

    @Test func countersCountFramesAndDeliveries() throws {
        var server = ServerScript()
        try server.open()
        let channel = try server.openChannel()
        let before = server.engine.counters
        try server.serverSends(channel: channel, .basicDeliver(BasicDeliver(consumerTag: "c", deliveryTag: 1, exchange: "", routingKey: "q")))
        try server.serverSends(.header(channel: channel, ContentHeader(bodySize: 1, properties: BasicProperties())))
        try server.serverSends(.body(channel: channel, "x"))
        try server.serverSends(.heartbeat)
        #expect(server.engine.counters.framesIn == before.framesIn + 4)
        #expect(server.engine.counters.deliveries == before.deliveries + 1)
        #expect(server.engine.counters.heartbeatsIn == before.heartbeatsIn + 1)
    }
}
