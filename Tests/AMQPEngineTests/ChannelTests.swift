import Testing
@testable import AMQPEngine
@testable import AMQPWire

@Suite struct ChannelTests {
    @Test func repliesAreMatchedToRequestsInOrder() throws {
        var server = ServerScript()
        try server.open()
        let channel = try server.openChannel()
        let declare = server.request(), bind = server.request()
        try server.drive { engine, out in
            engine.call(.queueDeclare(QueueDeclare(queue: "")), channel: channel, noWait: false, request: declare, into: &out)
            engine.call(.queueBind(QueueBind(queue: "q", exchange: "e")), channel: channel, noWait: false, request: bind, into: &out)
        }
        #expect(server.takeSent().count == 2)
        try server.serverSends(channel: channel, .queueDeclareOk(QueueDeclareOk(queue: "amq.gen-x", messageCount: 3, consumerCount: 0)))
        try server.serverSends(channel: channel, .queueBindOk(QueueBindOk()))
        let completions = server.takeEvents().compactMap { $0.completionResult }
        #expect(completions.map(\.0) == [declare, bind])
        guard case .success(.queueDeclared(let name, let count, _)) = completions[0].1 else { Issue.record("declare"); return }
        #expect(name == "amq.gen-x" && count == 3)
    }

    /// RabbitMQ sends consume-ok and cancel-ok from the queue's process, so a reply to a request
    /// pipelined right behind them can come first (seen against a real broker: a queue.declare
    /// sent just after a basic.cancel got its declare-ok before the cancel-ok).
    @Test func repliesMayOvertakeConsumeOkAndCancelOk() throws {
        var server = ServerScript()
        try server.open()
        let channel = try server.openChannel()
        let consume = server.request(), cancelA = server.request(), cancelB = server.request(), declare = server.request()
        try server.drive { engine, out in
            engine.call(.basicConsume(BasicConsume(queue: "q", consumerTag: "")), channel: channel, noWait: false, request: consume, into: &out)
            engine.call(.basicCancel(BasicCancel(consumerTag: "a")), channel: channel, noWait: false, request: cancelA, into: &out)
            engine.call(.basicCancel(BasicCancel(consumerTag: "b")), channel: channel, noWait: false, request: cancelB, into: &out)
            engine.call(.queueDeclare(QueueDeclare(queue: "q", passive: true)), channel: channel, noWait: false, request: declare, into: &out)
        }
        #expect(server.takeSent().count == 4)
        try server.serverSends(channel: channel, .queueDeclareOk(QueueDeclareOk(queue: "q", messageCount: 0, consumerCount: 1)))
        try server.serverSends(channel: channel, .basicCancelOk(BasicCancelOk(consumerTag: "b")))
        try server.serverSends(channel: channel, .basicConsumeOk(BasicConsumeOk(consumerTag: "amq.ctag-1")))
        try server.serverSends(channel: channel, .basicCancelOk(BasicCancelOk(consumerTag: "a")))
        let completions = server.takeEvents().compactMap { $0.completionResult }
        #expect(completions.map(\.0) == [declare, cancelB, consume, cancelA])
        guard case .success(.consumerStarted(let tag, _)) = completions[2].1 else { Issue.record("consume"); return }
        #expect(tag == "amq.ctag-1")
        #expect(server.engine.state == .open)
    }

    /// Only consume and cancel replies can be overtaken: a reply out of order past any other
    /// request is still a protocol violation.
    @Test func aReplyCannotOvertakeOtherRequests() throws {
        var server = ServerScript()
        try server.open()
        let channel = try server.openChannel()
        let bind = server.request(), declare = server.request()
        try server.drive { engine, out in
            engine.call(.queueBind(QueueBind(queue: "q", exchange: "e")), channel: channel, noWait: false, request: bind, into: &out)
            engine.call(.queueDeclare(QueueDeclare(queue: "q", passive: true)), channel: channel, noWait: false, request: declare, into: &out)
        }
        try server.serverSends(channel: channel, .queueDeclareOk(QueueDeclareOk(queue: "q", messageCount: 0, consumerCount: 0)))
        #expect(server.engine.state != .open)
    }

    @Test func channelExceptionFailsPendingRequestsAndKeepsTheConnection() throws {
        var server = ServerScript()
        try server.open()
        let channel = try server.openChannel()
        let declare = server.request()
        try server.drive { engine, out in
            engine.call(.exchangeDeclare(ExchangeDeclare(exchange: "missing", passive: true)), channel: channel, noWait: false, request: declare, into: &out)
        }
        _ = server.takeSent()
        try server.serverSends(channel: channel, .channelClose(ChannelClose(replyCode: 404, replyText: "NOT_FOUND - no exchange 'missing'", classId: 40, methodId: 10)))
        #expect(server.takeSent() == [.method(channel: channel, .channelCloseOk(ChannelCloseOk()))])
        let events = server.takeEvents()
        guard case .failure(let error)? = events.compactMap({ $0.completionResult }).first?.1 else { Issue.record("no failure"); return }
        #expect(error.kind == .channelClosed && error.replyCode == 404 && error.classID == 40 && error.methodID == 10 && error.channel == channel)
        #expect(error.recoverable)
        #expect(events.contains { if case .channelClosed(channel, _, _) = $0 { return true } else { return false } })
        #expect(server.engine.state == .open)
        // The number is free again.
        #expect(try server.openChannel() == channel)
    }

    @Test func getOkAssemblesTheMessageFromHeaderAndBodyFrames() throws {
        var server = ServerScript()
        try server.open()
        let channel = try server.openChannel()
        let get = server.request()
        try server.drive { $0.call(.basicGet(BasicGet(queue: "q")), channel: channel, noWait: false, request: get, into: &$1) }
        try server.serverSends(channel: channel, .basicGetOk(BasicGetOk(deliveryTag: 7, redelivered: false, exchange: "e", routingKey: "k", messageCount: 2)))
        #expect(server.takeEvents().isEmpty)
        let properties = BasicProperties(contentType: "application/json", headers: ["n": .int32(1)])
        try server.serverSends(.header(channel: channel, ContentHeader(bodySize: 6, properties: properties)))
        try server.serverSends(.body(channel: channel, "abc"))
        #expect(server.takeEvents().isEmpty)
        try server.serverSends(.body(channel: channel, "def"))
        guard case .success(.message(let message))? = server.takeEvents().compactMap({ $0.completionResult }).first?.1 else {
            Issue.record("no message"); return
        }
        #expect(message.body == "abcdef" && message.deliveryTag == 7 && message.messageCount == 2 && message.properties == properties)
    }

    @Test func getEmptyCompletesWithEmpty() throws {
        var server = ServerScript()
        try server.open()
        let channel = try server.openChannel()
        let get = server.request()
        try server.drive { $0.call(.basicGet(BasicGet(queue: "q")), channel: channel, noWait: false, request: get, into: &$1) }
        try server.serverSends(channel: channel, .basicGetEmpty(BasicGetEmpty()))
        guard case .success(.empty)? = server.takeEvents().compactMap({ $0.completionResult }).first?.1 else { Issue.record("not empty"); return }
    }

    @Test func zeroLengthBodyIsDeliveredAtTheHeader() throws {
        var server = ServerScript()
        try server.open()
        let channel = try server.openChannel()
        try server.serverSends(channel: channel, .basicDeliver(BasicDeliver(consumerTag: "c", deliveryTag: 1, exchange: "", routingKey: "q")))
        try server.serverSends(.header(channel: channel, ContentHeader(bodySize: 0, properties: BasicProperties())))
        #expect(server.takeEvents().contains { if case .delivery(let m) = $0 { return m.body.isEmpty && m.consumerTag == "c" } else { return false } })
    }

    /// A no-ack delivery the broker sent before it saw our channel.close is the application's:
    /// discarding it would lose it. Other methods in that window are still discarded.
    @Test func deliveriesAfterOurChannelCloseAreStillHandedOut() throws {
        var server = ServerScript()
        try server.open()
        let channel = try server.openChannel()
        let close = server.request()
        try server.drive { $0.closeChannel(channel, request: close, into: &$1) }
        _ = server.takeSent()
        try server.serverSends(channel: channel, .basicDeliver(BasicDeliver(consumerTag: "c", deliveryTag: 7, exchange: "", routingKey: "q")))
        try server.serverSends(.header(channel: channel, ContentHeader(bodySize: 2, properties: BasicProperties())))
        try server.serverSends(.body(channel: channel, Bytes("hi")))
        try server.serverSends(channel: channel, .basicQosOk(BasicQosOk()))
        try server.serverSends(channel: channel, .channelCloseOk(ChannelCloseOk()))
        let events = server.takeEvents()
        #expect(events.contains { if case .delivery(let m) = $0 { return m.deliveryTag == 7 && m.body == Bytes("hi") } else { return false } })
        #expect(events.contains { $0.completionResult?.0 == close })
        #expect(server.engine.state == .open)
    }

    /// Messages are pooled: one that carried properties is reused for the next delivery, whose
    /// header has none (decoding is skipped then), and must come out without the old ones.
    @Test func aReusedMessageDoesNotKeepTheLastMessagesProperties() throws {
        var server = ServerScript()
        try server.open()
        let channel = try server.openChannel()
        let properties = BasicProperties(contentType: "text/plain", deliveryMode: 2, messageId: "m-1")
        func deliver(_ tag: UInt64, _ properties: BasicProperties) throws -> InboundMessage? {
            try server.serverSends(channel: channel, .basicDeliver(BasicDeliver(consumerTag: "c", deliveryTag: tag, exchange: "", routingKey: "q")))
            try server.serverSends(.header(channel: channel, ContentHeader(bodySize: 1, properties: properties)))
            try server.serverSends(.body(channel: channel, "x"))
            return server.takeEvents().lazy.compactMap { if case .delivery(let m) = $0 { return m } else { return nil } }.first
        }
        var first = try deliver(1, properties)
        #expect(first?.properties == properties)
        #expect(first?.propertyFlags == properties.flags)
        let firstID = first.map(ObjectIdentifier.init)
        server.engine.reuse(&first)
        let second = try deliver(2, BasicProperties())
        #expect(second.map(ObjectIdentifier.init) == firstID) // the pooled object, not a new one
        #expect(second?.properties == BasicProperties())
        #expect(second?.propertyFlags == 0)
    }

    /// basic.deliver is decoded on its own path (no `Method` value): a truncated one, or one with
    /// bytes after its arguments, must close the connection as a frame error, as any other
    /// malformed method does.
    @Test(arguments: [[UInt8]([0, 60, 0, 60, 5, 0x61, 0x62]), // consumer tag cut short
                      [0, 60, 0, 60, 1, 0x63, 0, 0, 0, 0, 0, 0, 0, 1, 0, 0, 1, 0x71, 0xFF]]) // one byte too many
    func aMalformedDeliverIsAFrameError(payload: [UInt8]) throws {
        var server = ServerScript()
        try server.open()
        let channel = try server.openChannel()
        let time = server.now
        try server.drive { engine, out in
            do {
                try engine.receive(CutFrame(type: AMQPConstants.frameMethod, channel: channel, payload: Bytes(payload)), now: time, into: &out)
                Issue.record("a malformed basic.deliver was accepted")
            } catch {
                engine.protocolError(error as? WireError ?? .allocationFailed(size: 0), into: &out)
            }
        }
        #expect(server.engine.state == .closed)
        #expect(server.takeSent().contains { if case .method(0, .connectionClose(let c)) = $0 { return c.replyCode == 501 } else { return false } })
        #expect(!server.takeEvents().contains { if case .delivery = $0 { return true } else { return false } })
    }

    @Test func bodyLargerThanMaxMessageSizeClosesTheConnection() throws {
        var server = ServerScript { $0.maxMessageSize = 1000 }
        try server.open()
        let channel = try server.openChannel()
        try server.serverSends(channel: channel, .basicDeliver(BasicDeliver(consumerTag: "c", deliveryTag: 1, exchange: "", routingKey: "q")))
        try server.serverSends(.header(channel: channel, ContentHeader(bodySize: 1 << 40, properties: BasicProperties())))
        #expect(server.engine.state == .closed)
        let closed = server.takeEvents().compactMap { if case .connectionClosed(let e) = $0 { return e } else { return nil } }
        #expect(closed.first?.kind == .messageTooLarge)
    }

    @Test func bodyFramesBeyondTheAnnouncedSizeAreAViolation() throws {
        var server = ServerScript()
        try server.open()
        let channel = try server.openChannel()
        try server.serverSends(channel: channel, .basicDeliver(BasicDeliver(consumerTag: "c", deliveryTag: 1, exchange: "", routingKey: "q")))
        try server.serverSends(.header(channel: channel, ContentHeader(bodySize: 2, properties: BasicProperties())))
        try server.serverSends(.body(channel: channel, "abc"))
        #expect(server.engine.state == .closed)
    }

    @Test func contentWithoutAMethodIsAViolation() throws {
        var server = ServerScript()
        try server.open()
        let channel = try server.openChannel()
        try server.serverSends(.body(channel: channel, "x"))
        #expect(server.engine.state == .closed)
        #expect(server.takeSent().contains { if case .method(0, .connectionClose(let c)) = $0 { return c.replyCode == 505 } else { return false } })
    }

    @Test func publishSplitsTheBodyAtTheNegotiatedFrameMax() throws {
        var server = ServerScript()
        try server.open(tune: ConnectionTune(channelMax: 0, frameMax: 4096, heartbeat: 0))
        let channel = try server.openChannel()
        let body = [UInt8](repeating: 9, count: 5000)
        try server.drive { engine, out in
            _ = body.withUnsafeBytes {
                engine.publish(BasicPublish(exchange: "", routingKey: "q"), properties: BasicProperties(deliveryMode: 2), body: $0, channel: channel, into: &out)
            }
        }
        let sizes = server.takeSent().compactMap { if case .body(_, let b) = $0 { return b.count } else { return nil } }
        #expect(sizes == [4088, 912])
    }

    @Test func commandsOnAClosedChannelFail() throws {
        var server = ServerScript()
        try server.open()
        let id = server.request()
        try server.drive { $0.call(.queueDeclare(QueueDeclare(queue: "q")), channel: 9, noWait: false, request: id, into: &$1) }
        guard case .failure(let error)? = server.takeEvents().compactMap({ $0.completionResult }).first?.1 else { Issue.record("no failure"); return }
        #expect(error.kind == .channelClosed)
        #expect(server.takeSent().isEmpty)
    }

    @Test func serverCancelAndConfirmsBecomeEvents() throws {
        var server = ServerScript()
        try server.open()
        let channel = try server.openChannel()
        try server.serverSends(channel: channel, .basicCancel(BasicCancel(consumerTag: "c1", nowait: true)))
        try server.serverSends(channel: channel, .basicAck(BasicAck(deliveryTag: 5, multiple: true)))
        try server.serverSends(channel: channel, .basicNack(BasicNack(deliveryTag: 6, multiple: false, requeue: false)))
        let events = server.takeEvents()
        #expect(events.contains { if case .consumerCancelled(channel, "c1") = $0 { return true } else { return false } })
        #expect(events.contains { if case .confirm(channel, true, 5, true) = $0 { return true } else { return false } })
        #expect(events.contains { if case .confirm(channel, false, 6, false) = $0 { return true } else { return false } })
    }

    @Test func serverFlowIsAnsweredAndReported() throws {
        var server = ServerScript()
        try server.open()
        let channel = try server.openChannel()
        try server.serverSends(channel: channel, .channelFlow(ChannelFlow(active: false)))
        #expect(server.takeSent() == [.method(channel: channel, .channelFlowOk(ChannelFlowOk(active: false)))])
        #expect(server.takeEvents().contains { if case .flow(channel, false) = $0 { return true } else { return false } })
    }
}
