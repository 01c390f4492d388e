import AMQPWire

/// The client's answers in the AMQP handshake: connection.start-ok (the SASL mechanism the
/// configuration asks for among those the broker offers, and its response) and the limits
/// connection.tune-ok settles. Decisions only: the connection state machine sends them and moves
/// between its states.
enum Handshake {
    /// Why the handshake cannot go on: the connection closes with this.
    struct Refusal: Error, Equatable {
        let kind: ErrorKind
        let code: ReplyCode
        let text: String
    }

    /// What connection.tune-ok says.
    struct Limits: Equatable {
        let channelMax: UInt16
        let frameMax: UInt32
        let heartbeat: UInt16
    }

    static func startOk(answering start: ConnectionStart, _ configuration: ConnectionConfiguration)
        -> Result<ConnectionStartOk, Refusal> {
        let offered = start.mechanisms.lossyString.split(separator: " ").map(String.init)
        guard let mechanism = mechanism(offered: offered, configuration) else {
            return .failure(Refusal(kind: .authentication, code: .notImplemented,
                                    text: "the broker offers no SASL mechanism we can use (offered: \(offered.joined(separator: " ")))"))
        }
        return .success(ConnectionStartOk(clientProperties: configuration.clientProperties, mechanism: Bytes(mechanism),
                                          response: saslResponse(mechanism, configuration), locale: "en_US"))
    }

    /// Our limits against the broker's (0 on either side: the other's; both 0: unlimited).
    static func limits(answering tune: ConnectionTune, _ configuration: ConnectionConfiguration,
                       initialFrameMax: UInt32) -> Result<Limits, Refusal> {
        let channelMax = TuneNegotiation.limit(client: configuration.channelMax, server: tune.channelMax, unlimited: UInt16.max)
        let frameMax = TuneNegotiation.limit(client: configuration.frameMax, server: tune.frameMax, unlimited: initialFrameMax)
        guard frameMax >= 4096 else {
            return .failure(Refusal(kind: .protocolViolation, code: .notAllowed,
                                    text: "the broker proposed frame_max \(tune.frameMax), below 4096"))
        }
        return .success(Limits(channelMax: channelMax, frameMax: frameMax,
                               heartbeat: TuneNegotiation.heartbeat(client: configuration.heartbeat, server: tune.heartbeat)))
    }

    static func mechanism(offered: [String], _ configuration: ConnectionConfiguration) -> String? {
        switch configuration.authMechanism {
        case .plain: return offered.contains("PLAIN") ? "PLAIN" : nil
        case .amqplain: return offered.contains("AMQPLAIN") ? "AMQPLAIN" : nil
        case .external: return offered.contains("EXTERNAL") ? "EXTERNAL" : nil
        case .auto:
            if configuration.tls?.certificateFile != nil && offered.contains("EXTERNAL") { return "EXTERNAL" }
            return offered.contains("PLAIN") ? "PLAIN" : offered.contains("AMQPLAIN") ? "AMQPLAIN" : nil
        }
    }

    /// The start-ok response: PLAIN is NUL user NUL password; AMQPLAIN is a field table's entries
    /// LOGIN and PASSWORD without the table's length prefix; EXTERNAL is empty (the broker takes
    /// the identity from the client certificate).
    static func saslResponse(_ mechanism: String, _ configuration: ConnectionConfiguration) -> Bytes {
        if mechanism == "EXTERNAL" { return Bytes() }
        if mechanism == "AMQPLAIN" {
            var writer = ByteWriter()
            // Entries of at most 65535-byte strings each: encoding cannot fail for them.
            try? writer.writeTable(["LOGIN": .longString(Bytes(configuration.user)), "PASSWORD": .longString(Bytes(configuration.password))])
            return Bytes(Array(writer.buffer.dropFirst(4)))
        }
        return Bytes([0] + Array(configuration.user.utf8) + [0] + Array(configuration.password.utf8))
    }
}
