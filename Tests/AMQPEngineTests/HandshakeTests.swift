import Testing
@testable import AMQPEngine
@testable import AMQPWire

@Suite struct HandshakeTests {
    @Test func handshakeSendsStartOkTuneOkAndOpen() throws {
        var server = ServerScript { $0.user = "alice"; $0.password = "s3cret"; $0.virtualHost = "prod"; $0.connectionName = "billing" }
        let id = server.request()
        let now = server.now
        var out = EngineOutput()
        server.engine.start(request: id, now: now, into: &out)
        #expect(Array(out.outbound.buffer) == protocolHeader)
        try server.absorb(out)

        try server.serverSends(.connectionStart(ConnectionStart(serverProperties: [:], mechanisms: "PLAIN AMQPLAIN")))
        guard case .method(0, .connectionStartOk(let startOk)) = server.takeSent().first else {
            Issue.record("no start-ok")
            return
        }
        #expect(startOk.mechanism == "PLAIN")
        #expect(startOk.response == Bytes([0] + Array("alice".utf8) + [0] + Array("s3cret".utf8)))
        #expect(startOk.clientProperties["connection_name"] == .longString("billing"))
        guard case .table(let capabilities)? = startOk.clientProperties["capabilities"] else {
            Issue.record("no capabilities")
            return
        }
        for name in ["publisher_confirms", "exchange_exchange_bindings", "basic.nack", "consumer_cancel_notify",
                     "connection.blocked", "authentication_failure_close", "per_consumer_qos", "direct_reply_to"] {
            #expect(capabilities[name] == .bool(true), "capability \(name)")
        }

        try server.serverSends(.connectionTune(ConnectionTune(channelMax: 2047, frameMax: 131_072, heartbeat: 60)))
        let afterTune = server.takeSent()
        #expect(afterTune == [
            .method(channel: 0, .connectionTuneOk(ConnectionTuneOk(channelMax: 2047, frameMax: 131_072, heartbeat: 60))),
            .method(channel: 0, .connectionOpen(ConnectionOpen(virtualHost: "prod"))),
        ])
        try server.serverSends(.connectionOpenOk(ConnectionOpenOk()))
        #expect(server.engine.state == .open)
        #expect(server.takeEvents().contains { $0.completionResult?.0 == id && (try? $0.completionResult?.1.get()) != nil })
    }

    @Test func tuneRuleForZeroes() {
        #expect(TuneNegotiation.limit(client: UInt16(0), server: 2047, unlimited: .max) == 2047)
        #expect(TuneNegotiation.limit(client: UInt16(100), server: 0, unlimited: .max) == 100)
        #expect(TuneNegotiation.limit(client: UInt16(0), server: 0, unlimited: .max) == UInt16.max)
        #expect(TuneNegotiation.limit(client: UInt32(131_072), server: 65_536, unlimited: 131_072) == 65_536)
        #expect(TuneNegotiation.heartbeat(client: 0, server: 60) == 0)
        #expect(TuneNegotiation.heartbeat(client: 30, server: 0) == 30)
        #expect(TuneNegotiation.heartbeat(client: 30, server: 60) == 30)
    }

    @Test func wrongPasswordIsAnAuthenticationError() throws {
        var server = ServerScript { $0.password = "wrong" }
        let id = server.request()
        let now = server.now
        try server.drive { $0.start(request: id, now: now, into: &$1) }
        try server.serverSends(.connectionStart(ConnectionStart(serverProperties: [:], mechanisms: "PLAIN")))
        try server.serverSends(.connectionClose(ConnectionClose(replyCode: 403, replyText: "ACCESS_REFUSED - Login was refused", classId: 0, methodId: 0)))
        #expect(server.takeSent().contains(.method(channel: 0, .connectionCloseOk(ConnectionCloseOk()))))
        let failure = server.takeEvents().compactMap { $0.completionResult }.first { $0.0 == id }
        guard case .failure(let error)? = failure?.1 else {
            Issue.record("open did not fail")
            return
        }
        #expect(error.kind == .authentication)
        #expect(error.replyCode == 403 && error.fromBroker)
        #expect(!error.message.contains("wrong"))
        #expect(server.socketClosed)
    }

    @Test func socketClosedDuringLoginIsReportedAsAuthentication() throws {
        var server = ServerScript()
        let id = server.request()
        let now = server.now
        try server.drive { $0.start(request: id, now: now, into: &$1) }
        try server.serverSends(.connectionStart(ConnectionStart(serverProperties: [:], mechanisms: "PLAIN")))
        try server.drive { $0.connectionLost(AMQPError(.connectionLost, "eof"), into: &$1) }
        let result = server.takeEvents().compactMap { $0.completionResult }.first { $0.0 == id }
        guard case .failure(let error)? = result?.1 else { Issue.record("open did not fail"); return }
        #expect(error.kind == .authentication)
    }

    @Test func brokerWithoutPlainIsRefused() throws {
        var server = ServerScript()
        let id = server.request()
        let now = server.now
        try server.drive { $0.start(request: id, now: now, into: &$1) }
        try server.serverSends(.connectionStart(ConnectionStart(serverProperties: [:], mechanisms: "EXTERNAL")))
        #expect(server.engine.state == .closed)
        #expect(server.takeEvents().contains { $0.isConnectionClosed })
    }

    @Test func handshakeTimesOut() throws {
        var server = ServerScript { $0.connectTimeoutMs = 500 }
        let id = server.request()
        let now = server.now
        try server.drive { $0.start(request: id, now: now, into: &$1) }
        #expect(server.engine.nextDeadline == now + 500_000_000)
        try server.drive { $0.tick(now: now + 600_000_000, into: &$1) }
        let result = server.takeEvents().compactMap { $0.completionResult }.first { $0.0 == id }
        guard case .failure(let error)? = result?.1 else { Issue.record("open did not time out"); return }
        #expect(error.kind == .timeout)
    }

    @Test func unexpectedMethodDuringHandshakeClosesWithUnexpectedFrame() throws {
        var server = ServerScript()
        let id = server.request()
        let now = server.now
        try server.drive { $0.start(request: id, now: now, into: &$1) }
        try server.serverSends(.connectionStart(ConnectionStart(serverProperties: [:], mechanisms: "PLAIN")))
        _ = server.takeSent()
        try server.serverSends(.connectionOpenOk(ConnectionOpenOk()))
        guard case .method(0, .connectionClose(let close))? = server.takeSent().first else { Issue.record("no close"); return }
        #expect(close.replyCode == 505)
        #expect(server.engine.state == .closed)
    }
}
