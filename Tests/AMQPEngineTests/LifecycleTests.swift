import Testing
@testable import AMQPEngine
@testable import AMQPWire

@Suite struct LifecycleTests {
    @Test func heartbeatsAreSentAtHalfTheIntervalAndASilentPeerIsDetected() throws {
        var server = ServerScript()
        try server.open(tune: ConnectionTune(channelMax: 0, frameMax: 131_072, heartbeat: 10))
        #expect(server.engine.heartbeat == 10)
        _ = server.takeSent()
        let start = server.now
        try server.drive { engine, _ in engine.noteOutbound(now: start) }
        try server.drive { $0.tick(now: start + 4_000_000_000, into: &$1) }
        #expect(server.takeSent().isEmpty)
        try server.drive { $0.tick(now: start + 5_000_000_000, into: &$1) }
        #expect(server.takeSent() == [.heartbeat])
        // Nothing received for 2 intervals: the connection is declared dead.
        try server.drive { $0.tick(now: start + 20_000_000_001, into: &$1) }
        let closed = server.takeEvents().compactMap { if case .connectionClosed(let e) = $0 { return e } else { return nil } }
        #expect(closed.first?.kind == .heartbeatTimeout)
        #expect(server.socketClosed)
    }

    @Test func inboundTrafficKeepsTheConnectionAlive() throws {
        var server = ServerScript()
        try server.open(tune: ConnectionTune(channelMax: 0, frameMax: 131_072, heartbeat: 10))
        for second in stride(from: UInt64(5), through: 60, by: 5) {
            server.now += 5_000_000_000
            try server.serverSends(.heartbeat)
            let now = server.now
            try server.drive { $0.tick(now: now, into: &$1) }
            #expect(server.engine.state == .open, "at \(second) s")
        }
    }

    @Test func cleanCloseWaitsForCloseOk() throws {
        var server = ServerScript()
        try server.open()
        let channel = try server.openChannel()
        let pending = server.request()
        try server.drive { $0.call(.queueDeclare(QueueDeclare(queue: "q")), channel: channel, noWait: false, request: pending, into: &$1) }
        let close = server.request()
        let now = server.now
        try server.drive { $0.close(request: close, timeoutMs: 1_000, now: now, into: &$1) }
        #expect(server.takeSent().last == .method(channel: 0, .connectionClose(ConnectionClose(replyCode: 200, replyText: "Goodbye", classId: 0, methodId: 0))))
        #expect(server.engine.state == .closing)
        try server.serverSends(.connectionCloseOk(ConnectionCloseOk()))
        let completions = server.takeEvents().compactMap { $0.completionResult }
        #expect(completions.contains { $0.0 == close && (try? $0.1.get()) != nil })
        #expect(completions.contains { $0.0 == pending && (try? $0.1.get()) == nil })
        #expect(server.socketClosed)
    }

    @Test func closeWithoutCloseOkEndsAtItsTimeout() throws {
        var server = ServerScript()
        try server.open()
        let close = server.request()
        let now = server.now
        try server.drive { $0.close(request: close, timeoutMs: 1_000, now: now, into: &$1) }
        try server.drive { $0.tick(now: now + 1_000_000_001, into: &$1) }
        #expect(server.engine.state == .closed)
        #expect(server.takeEvents().contains { $0.completionResult?.0 == close })
    }

    @Test func brokerCloseCarriesReplyCodeAndText() throws {
        var server = ServerScript()
        try server.open()
        try server.serverSends(.connectionClose(ConnectionClose(replyCode: 320, replyText: "CONNECTION_FORCED - Closed via management plugin", classId: 0, methodId: 0)))
        #expect(server.takeSent().contains(.method(channel: 0, .connectionCloseOk(ConnectionCloseOk()))))
        let closed = server.takeEvents().compactMap { if case .connectionClosed(let e) = $0 { return e } else { return nil } }
        #expect(closed.first?.replyCode == 320 && closed.first?.message.hasPrefix("CONNECTION_FORCED") == true)
        #expect(closed.first?.fromBroker == true)
    }

    @Test func blockedAndUnblockedAreEvents() throws {
        var server = ServerScript()
        try server.open()
        try server.serverSends(.connectionBlocked(ConnectionBlocked(reason: "low on memory")))
        #expect(server.engine.blocked)
        try server.serverSends(.connectionUnblocked(ConnectionUnblocked()))
        #expect(!server.engine.blocked)
        let events = server.takeEvents()
        #expect(events.contains { if case .blocked("low on memory") = $0 { return true } else { return false } })
        #expect(events.contains { if case .unblocked = $0 { return true } else { return false } })
    }

    @Test func channelNumbersRespectChannelMax() throws {
        var server = ServerScript { $0.channelMax = 2 }
        try server.open(tune: ConnectionTune(channelMax: 0, frameMax: 131_072, heartbeat: 0))
        #expect(try server.openChannel() == 1)
        #expect(try server.openChannel() == 2)
        let id = server.request()
        var result: Result<UInt16, AMQPError>?
        try server.drive { result = $0.openChannel(request: id, into: &$1) }
        guard case .failure(let error)? = result else { Issue.record("a third channel opened"); return }
        #expect(error.kind == .channelLimit)
    }

    @Test func urlParsing() {
        guard case .success(let url) = AMQPURL.parse("amqp://us%40er:p%3Ass@[::1]:5673/v%2fhost?heartbeat=5&frame_max=8192&channel_max=10&connection_timeout=2500") else {
            Issue.record("parse failed"); return
        }
        #expect(url.user == "us@er" && url.password == "p:ss" && url.host == "::1" && url.port == 5673 && url.virtualHost == "v/host")
        #expect(url.heartbeat == 5 && url.frameMax == 8192 && url.channelMax == 10 && url.connectTimeoutMs == 2500)
        guard case .success(let bare) = AMQPURL.parse("amqp://host") else { Issue.record("bare"); return }
        #expect(bare.virtualHost == nil && bare.host == "host")
        guard case .success(let slash) = AMQPURL.parse("amqp://host/") else { Issue.record("slash"); return }
        #expect(slash.virtualHost == "")
        for bad in ["http://x", "amqp://host:99999", "amqp://host:abc", "amqp://[::1", "amqp://h/a/b", "amqp://h?heartbeat=x", "amqp://h?bogus=1", "amqp://h/%zz"] {
            guard case .failure(let error) = AMQPURL.parse(bad) else { Issue.record("\(bad) parsed"); continue }
            #expect(error.kind == .invalidArgument)
        }
    }
}
