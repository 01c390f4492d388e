import Testing
@testable import AMQPEngine
@testable import AMQPWire

/// The heartbeat and the handshake's decisions as values, apart from the state machine that
/// routes frames to them.
@Suite struct HeartbeatTests {
    static let second: UInt64 = 1_000_000_000

    @Test func offUntilStartedAndWithAZeroInterval() {
        var pulse = Heartbeat()
        pulse.reset(now: 5)
        #expect(pulse.nextDeadline == nil)
        #expect(pulse.tick(now: 1_000 * Self.second) == .none)
        pulse.start(seconds: 0)
        #expect(pulse.nextDeadline == nil)
    }

    @Test func sendsAtHalfTheIntervalOfOurSilenceAndGivesUpAfterTwoOfTheirs() {
        var pulse = Heartbeat()
        let t0: UInt64 = 100 * Self.second
        pulse.reset(now: t0)
        pulse.start(seconds: 10)
        #expect(pulse.nextDeadline == t0 + 5 * Self.second)
        #expect(pulse.tick(now: t0 + 4 * Self.second) == .none)
        #expect(pulse.tick(now: t0 + 5 * Self.second) == .send)
        #expect(pulse.lastOutbound == t0 + 5 * Self.second) // a sent heartbeat counts as traffic
        #expect(pulse.tick(now: t0 + 6 * Self.second) == .none)
        // our own traffic postpones the next heartbeat
        pulse.noteOutbound(now: t0 + 9 * Self.second)
        #expect(pulse.tick(now: t0 + 11 * Self.second) == .none)
        #expect(pulse.nextDeadline == t0 + 14 * Self.second)
        // the peer's bytes keep it alive; twenty seconds without them end it
        pulse.noteInbound(now: t0 + 15 * Self.second)
        #expect(pulse.tick(now: t0 + 34 * Self.second) == .send)
        #expect(pulse.tick(now: t0 + 35 * Self.second) == .peerSilent(forNs: 20 * Self.second))
    }

    @Test func theLargestIntervalDoesNotOverflow() {
        var pulse = Heartbeat()
        pulse.reset(now: UInt64.max - Self.second)
        pulse.start(seconds: UInt16.max)
        // deadlines wrap as monotonic times do (&+), never trap
        _ = pulse.nextDeadline
        #expect(pulse.tick(now: UInt64.max) == .none)
    }
}

@Suite struct HandshakeDecisionTests {
    static func start(_ mechanisms: Bytes) -> ConnectionStart {
        ConnectionStart(serverProperties: [:], mechanisms: mechanisms)
    }

    @Test func theMechanismIsTheConfiguredOneAmongThoseOffered() {
        var configuration = ConnectionConfiguration()
        #expect(Handshake.mechanism(offered: ["AMQPLAIN", "PLAIN"], configuration) == "PLAIN")
        #expect(Handshake.mechanism(offered: ["AMQPLAIN"], configuration) == "AMQPLAIN")
        #expect(Handshake.mechanism(offered: ["EXTERNAL"], configuration) == nil)
        configuration.authMechanism = .amqplain
        #expect(Handshake.mechanism(offered: ["PLAIN"], configuration) == nil)
        configuration.authMechanism = .external
        #expect(Handshake.mechanism(offered: ["PLAIN", "EXTERNAL"], configuration) == "EXTERNAL")
        // auto takes EXTERNAL only with a client certificate
        configuration.authMechanism = .auto
        var tls = TLSConfiguration()
        tls.certificateFile = "client.pem"
        configuration.tls = tls
        #expect(Handshake.mechanism(offered: ["PLAIN", "EXTERNAL"], configuration) == "EXTERNAL")
    }

    @Test func responsesOfEachMechanism() {
        var configuration = ConnectionConfiguration()
        configuration.user = "bob"
        configuration.password = "pw"
        #expect(Handshake.saslResponse("PLAIN", configuration) == Bytes([0, 98, 111, 98, 0, 112, 119]))
        #expect(Handshake.saslResponse("EXTERNAL", configuration) == Bytes())
        // AMQPLAIN: the table's entries without its length: LOGIN then PASSWORD as long strings
        let amqplain = Handshake.saslResponse("AMQPLAIN", configuration).array
        #expect(amqplain == [5] + Array("LOGIN".utf8) + [UInt8(ascii: "S"), 0, 0, 0, 3] + Array("bob".utf8)
            + [8] + Array("PASSWORD".utf8) + [UInt8(ascii: "S"), 0, 0, 0, 2] + Array("pw".utf8))
    }

    @Test func noUsableMechanismIsARefusal() {
        guard case .failure(let refusal) = Handshake.startOk(answering: Self.start("EXTERNAL CRAM-MD5"), ConnectionConfiguration()) else {
            Issue.record("a start without PLAIN or AMQPLAIN was answered")
            return
        }
        #expect(refusal.kind == .authentication && refusal.code == .notImplemented)
        #expect(refusal.text.contains("EXTERNAL CRAM-MD5"))
    }

    @Test func limitsTakeTheSmallerNonZeroValue() {
        var configuration = ConnectionConfiguration()
        configuration.channelMax = 100
        configuration.frameMax = 0
        configuration.heartbeat = 30
        let tune = ConnectionTune(channelMax: 0, frameMax: 65_536, heartbeat: 60)
        #expect(Handshake.limits(answering: tune, configuration, initialFrameMax: 131_072)
            == .success(Handshake.Limits(channelMax: 100, frameMax: 65_536, heartbeat: 30)))
        let unlimited = ConnectionTune(channelMax: 0, frameMax: 0, heartbeat: 0)
        #expect(Handshake.limits(answering: unlimited, configuration, initialFrameMax: 131_072)
            == .success(Handshake.Limits(channelMax: 100, frameMax: 131_072, heartbeat: 30)))
        let tiny = ConnectionTune(channelMax: 0, frameMax: 1024, heartbeat: 0)
        guard case .failure(let refusal) = Handshake.limits(answering: tiny, configuration, initialFrameMax: 131_072) else {
            Issue.record("frame_max 1024 was accepted")
            return
        }
        #expect(refusal.kind == .protocolViolation && refusal.code == .notAllowed)
    }
}
