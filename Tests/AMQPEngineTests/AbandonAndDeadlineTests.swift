import Testing
@testable import AMQPEngine
@testable import AMQPWire

/// Requests the caller gave up on (abandoned, or past their deadline), returns matched to their
/// publishes and channel generations, played as the broker would.
@Suite struct AbandonAndDeadlineTests {
    private func consume(_ server: inout ServerScript, channel: UInt16, noAck: Bool) throws -> RequestID {
        let id = server.request()
        try server.drive {
            $0.call(.basicConsume(BasicConsume(queue: "q", consumerTag: "", noAck: noAck)), channel: channel, noWait: false,
                    request: id, into: &$1)
        }
        _ = server.takeSent()
        return id
    }

    private func deliver(_ server: inout ServerScript, channel: UInt16, tag: Bytes, deliveryTag: UInt64) throws {
        try server.serverSends(channel: channel, .basicDeliver(BasicDeliver(consumerTag: tag, deliveryTag: deliveryTag, exchange: "", routingKey: "q")))
        try server.serverSends(.header(channel: channel, ContentHeader(bodySize: 2, properties: BasicProperties())))
        try server.serverSends(.body(channel: channel, "hi"))
    }

    @Test func anAbandonedConsumeIsCancelledAndItsDeliveriesGoBack() throws {
        var server = ServerScript()
        try server.open()
        let channel = try server.openChannel()
        let id = try consume(&server, channel: channel, noAck: false)
        #expect(server.engine.abandon(id) == channel)
        #expect(server.engine.abandon(id) == nil) // once
        try server.serverSends(channel: channel, .basicConsumeOk(BasicConsumeOk(consumerTag: "ctag")))
        // No completion; the consumer is cancelled instead.
        #expect(server.takeEvents().allSatisfy { $0.completionResult == nil })
        guard case .method(_, .basicCancel(let cancel)) = server.takeSent().first else { Issue.record("no basic.cancel"); return }
        #expect(cancel.consumerTag == "ctag")
        // A delivery before the cancel-ok goes back to the queue, unseen.
        try deliver(&server, channel: channel, tag: "ctag", deliveryTag: 7)
        #expect(!server.takeEvents().contains { if case .delivery = $0 { true } else { false } })
        guard case .method(_, .basicReject(let reject)) = server.takeSent().first else { Issue.record("no basic.reject"); return }
        #expect(reject.deliveryTag == 7 && reject.requeue)
        // The cancel-ok completes nobody and ends the special handling.
        try server.serverSends(channel: channel, .basicCancelOk(BasicCancelOk(consumerTag: "ctag")))
        #expect(server.takeEvents().allSatisfy { $0.completionResult == nil })
        #expect(server.engine.channels[channel]?.abandonedConsumers.isEmpty == true)
        #expect(server.engine.state == .open)
    }

    @Test func aNoAckAbandonedConsumersDeliveriesComeAsLateMessages() throws {
        var server = ServerScript()
        try server.open()
        let channel = try server.openChannel()
        let id = try consume(&server, channel: channel, noAck: true)
        server.engine.abandon(id)
        try server.serverSends(channel: channel, .basicConsumeOk(BasicConsumeOk(consumerTag: "ctag")))
        _ = server.takeSent()
        try deliver(&server, channel: channel, tag: "ctag", deliveryTag: 1)
        let late = server.takeEvents().compactMap { event -> (InboundMessage, RequestID)? in
            if case .lateMessage(let message, let request) = event { return (message, request) }
            return nil
        }
        #expect(late.count == 1 && late.first?.1 == id && late.first?.0.body == "hi")
        #expect(server.takeSent().isEmpty) // nothing to reject: the broker forgot it
    }

    @Test func aQueuedConsumeCompletionIsUndone() throws {
        var server = ServerScript()
        try server.open()
        let channel = try server.openChannel()
        let id = try consume(&server, channel: channel, noAck: false)
        try server.serverSends(channel: channel, .basicConsumeOk(BasicConsumeOk(consumerTag: "ctag")))
        guard case .success(let reply) = server.takeEvents().compactMap({ $0.completionResult }).first?.1 else {
            Issue.record("no completion"); return
        }
        // The transport took the completion back from its queue: the engine undoes it.
        try server.drive { $0.undoCompletion(reply, of: id, channel: channel, into: &$1) }
        guard case .method(_, .basicCancel(let cancel)) = server.takeSent().first else { Issue.record("no basic.cancel"); return }
        #expect(cancel.consumerTag == "ctag")
    }

    @Test func anAbandonedGetHandsItsMessageBack() throws {
        var server = ServerScript()
        try server.open()
        let channel = try server.openChannel()
        let id = server.request()
        try server.drive { $0.call(.basicGet(BasicGet(queue: "q")), channel: channel, noWait: false, request: id, into: &$1) }
        _ = server.takeSent()
        server.engine.abandon(id)
        try server.serverSends(channel: channel, .basicGetOk(BasicGetOk(deliveryTag: 3, exchange: "", routingKey: "q", messageCount: 0)))
        try server.serverSends(.header(channel: channel, ContentHeader(bodySize: 0, properties: BasicProperties())))
        #expect(server.takeEvents().allSatisfy { $0.completionResult == nil })
        guard case .method(_, .basicReject(let reject)) = server.takeSent().first else { Issue.record("no basic.reject"); return }
        #expect(reject.deliveryTag == 3 && reject.requeue)
    }

    @Test func aRequestPastItsDeadlineTimesOutOnceAndItsReplyCompletesNobody() throws {
        var server = ServerScript()
        try server.open()
        let channel = try server.openChannel()
        let id = server.request()
        try server.drive { $0.call(.queueDeclare(QueueDeclare(queue: "q")), channel: channel, noWait: false, request: id, into: &$1) }
        let start = server.now
        try server.drive { $0.setDeadline(id, at: start + 100_000_000, timeoutMs: 100, into: &$1) }
        #expect(server.engine.nextDeadline ?? .max <= start + 100_000_000)
        try server.drive { $0.tick(now: start + 99_000_000, into: &$1) }
        #expect(server.takeEvents().isEmpty)
        try server.drive { $0.tick(now: start + 100_000_000, into: &$1) }
        let completions = server.takeEvents().compactMap { $0.completionResult }
        #expect(completions.count == 1 && completions.first?.0 == id)
        guard case .failure(let error) = completions.first?.1 else { Issue.record("no timeout"); return }
        #expect(error.kind == .timeout)
        try server.drive { $0.tick(now: start + 200_000_000, into: &$1) }
        try server.serverSends(channel: channel, .queueDeclareOk(QueueDeclareOk(queue: "q", messageCount: 0, consumerCount: 0)))
        #expect(server.takeEvents().allSatisfy { $0.completionResult == nil })
        // Closing the channel fails nobody twice.
        let close = server.request()
        try server.drive { $0.closeChannel(channel, request: close, into: &$1) }
        try server.serverSends(channel: channel, .channelCloseOk(ChannelCloseOk()))
        #expect(server.takeEvents().compactMap { $0.completionResult }.map(\.0) == [close])
    }

    @Test func aRequestThatCompletesInTimeIsNotTimedOut() throws {
        var server = ServerScript()
        try server.open()
        let channel = try server.openChannel()
        let id = server.request()
        try server.drive { $0.call(.queueDeclare(QueueDeclare(queue: "q")), channel: channel, noWait: false, request: id, into: &$1) }
        let soon = server.now + 1_000
        try server.drive { $0.setDeadline(id, at: soon, timeoutMs: 1, into: &$1) }
        try server.serverSends(channel: channel, .queueDeclareOk(QueueDeclareOk(queue: "q", messageCount: 0, consumerCount: 0)))
        server.engine.requestCompleted(id)
        #expect(server.takeEvents().compactMap { $0.completionResult }.count == 1)
        let later = server.now + 2_000
        try server.drive { $0.tick(now: later, into: &$1) }
        #expect(server.takeEvents().isEmpty)
    }

    @Test func aReturnNamesTheSequenceOfItsPublish() throws {
        var server = ServerScript()
        try server.open()
        let channel = try server.openChannel()
        let select = server.request()
        try server.drive { $0.call(.confirmSelect(ConfirmSelect()), channel: channel, noWait: false, request: select, into: &$1) }
        try server.serverSends(channel: channel, .confirmSelectOk(ConfirmSelectOk()))
        var sequences: [UInt64] = []
        for (key, body) in [("a", "one"), ("b", "two"), ("b", "two")] {
            try server.drive { engine, out in
                let bytes = Array(body.utf8)
                sequences.append((try? bytes.withUnsafeBytes {
                    engine.publish(BasicPublish(exchange: "", routingKey: Bytes(Array(key.utf8)), mandatory: true),
                                   properties: BasicProperties(), body: $0, channel: channel, into: &out)
                }.get()) ?? 0)
            }
        }
        #expect(sequences == [1, 2, 3])
        func returnMessage(_ key: Bytes, _ body: Bytes) throws -> UInt64? {
            try server.serverSends(channel: channel, .basicReturn(BasicReturn(replyCode: 312, replyText: "NO_ROUTE", exchange: "", routingKey: key)))
            try server.serverSends(.header(channel: channel, ContentHeader(bodySize: UInt64(body.count), properties: BasicProperties())))
            try server.serverSends(.body(channel: channel, body))
            return server.takeEvents().compactMap { if case .returned(let m) = $0 { m.publishSequence } else { nil } }.first
        }
        // Identical publishes: the oldest unreturned one; then the confirm clears the rest.
        #expect(try returnMessage("b", "two") == 2)
        try server.serverSends(channel: channel, .basicAck(BasicAck(deliveryTag: 2, multiple: true)))
        #expect(try returnMessage("b", "two") == 3)
        #expect(try returnMessage("a", "one") == 0) // acked already: no unconfirmed publish matches
    }

    @Test func channelClosedEventsNameTheChannelsGeneration() throws {
        var server = ServerScript()
        try server.open()
        let first = server.request()
        var number: UInt16 = 0
        try server.drive { if case .success(let n) = $0.openChannel(request: first, into: &$1) { number = n } }
        try server.serverSends(channel: number, .channelOpenOk(ChannelOpenOk()))
        try server.serverSends(channel: number, .channelClose(ChannelClose(replyCode: 404, replyText: "NOT_FOUND", classId: 50, methodId: 10)))
        let second = server.request()
        try server.drive { _ = $0.openChannel(request: second, into: &$1) }
        try server.serverSends(channel: number, .channelOpenOk(ChannelOpenOk()))
        let close = server.request()
        try server.drive { $0.closeChannel(number, request: close, into: &$1) }
        try server.serverSends(channel: number, .channelCloseOk(ChannelCloseOk()))
        let generations = server.takeEvents().compactMap { event -> RequestID? in
            if case .channelClosed(number, _, let generation) = event { return generation }
            return nil
        }
        #expect(generations == [first, second])
    }
}
