import AMQPWire

/// The connection's protocol state machine: handshake, channels, heartbeats, close.
///
/// A value with no I/O: the transport feeds it frames, user commands and clock ticks ("now" in
/// monotonic nanoseconds) and carries out what it leaves in an `EngineOutput`: bytes to write,
/// events to deliver, the socket to close. Tests drive it as the broker would.
/// When a request gives up waiting for its reply (see `ConnectionStateMachine.setDeadline`).
struct RequestDeadline {
    var at: UInt64
    var timeoutMs: UInt32
}

public struct ConnectionStateMachine {
    public enum State: Equatable, Sendable {
        case idle, awaitingStart, awaitingTune, awaitingOpenOk, open, closing, closed
        /// Lost and waiting for the transport to reconnect (automatic recovery).
        case recovering
    }

    public internal(set) var state: State = .idle
    public let configuration: ConnectionConfiguration
    public internal(set) var channelMax: UInt16 = 0
    public internal(set) var frameMax: UInt32 = 0
    public internal(set) var heartbeat: UInt16 = 0
    public internal(set) var serverProperties = FieldTable()
    public internal(set) var blocked = false
    public internal(set) var counters = EngineCounters()
    /// How many times a handshake completed (the first connect and every reconnect).
    public internal(set) var handshakesCompleted = 0

    var channels = ChannelTable()
    /// Message objects handed back by the transport once converted for the application (`reuse`).
    var messagePool: [InboundMessage] = []
    var topology = TopologyRecords()
    /// From an unexpected loss until everything is restored (or recovery gives up).
    public internal(set) var recoveryActive = false
    var recoverySteps: [RecoveryStep] = []
    var currentStep: RecoveryStep?
    var recoveryFailures = 0
    var openRequest: RequestID?
    var closeRequest: RequestID?
    /// update-secret requests in the order sent (update-secret-ok names none); abandoned ones
    /// stay in line, in `abandonedSecretUpdates`, so a late reply completes nobody.
    var updateSecretRequests: [RequestID] = []
    var abandonedSecretUpdates: Set<RequestID> = []
    var pulse = Heartbeat()
    var deadline: UInt64?
    /// Deadlines of requests set with `setDeadline`, and the earliest of them (or an earlier one,
    /// of a request that completed since: then the next tick finds the real one).
    var requestDeadlines: [RequestID: RequestDeadline] = [:]
    var earliestRequestDeadline: UInt64?

    public init(configuration: ConnectionConfiguration) {
        self.configuration = configuration
    }

    /// The frame size allowed before tune-ok: our own limit (the broker sends small frames until then).
    public var initialFrameMax: UInt32 { configuration.frameMax == 0 ? 131_072 : configuration.frameMax }

    // MARK: - Connection lifecycle

    /// Begins the handshake on a connected socket: sends the protocol header.
    public mutating func start(request: RequestID, now: UInt64, into out: inout EngineOutput) {
        guard state == .idle else {
            out.events.append(.completion(request, channel: 0, .failure(AMQPError(.badState, "connection already started"))))
            return
        }
        state = .awaitingStart
        openRequest = request
        pulse.reset(now: now)
        deadline = handshakeDeadline(now)
        out.timerChanged = true
        out.outbound.buffer.append(contentsOf: protocolHeader)
    }

    /// When a handshake begun at `now` must have finished (nil: connect_timeout_ms is forever).
    func handshakeDeadline(_ now: UInt64) -> UInt64? {
        let at = Timeout.deadline(afterMs: configuration.connectTimeoutMs, from: now)
        return at == .max ? nil : at
    }

    /// Starts a clean close: connection.close 200, then waits up to `timeoutMs` for close-ok
    /// (`Timeout.forever`: until close-ok or the connection fails).
    public mutating func close(request: RequestID, timeoutMs: UInt32, now: UInt64, into out: inout EngineOutput) {
        switch state {
        case .closed:
            out.events.append(.completion(request, channel: 0, .success(.done)))
        case .closing:
            // A second close rides on the first one's reply.
            if closeRequest != nil {
                out.events.append(.completion(request, channel: 0, .success(.done)))
            } else {
                closeRequest = request // the first close was abandoned: this one takes its reply
            }
        case .idle, .recovering:
            recoveryActive = false
            finish(AMQPError(.closedByApplication, "connection closed by the application"), into: &out)
            out.events.insert(.completion(request, channel: 0, .success(.done)), at: 0)
        case .awaitingStart, .awaitingTune, .awaitingOpenOk:
            recoveryActive = false
            finish(AMQPError(.closedByApplication, "connection closed by the application during the handshake"), into: &out)
            out.events.insert(.completion(request, channel: 0, .success(.done)), at: 0)
        case .open:
            state = .closing
            closeRequest = request
            let at = Timeout.deadline(afterMs: timeoutMs, from: now)
            deadline = at == .max ? nil : at
            out.timerChanged = true
            send(channel: 0, .connectionClose(ConnectionClose(replyCode: 200, replyText: "Goodbye", classId: 0, methodId: 0)), into: &out)
        }
    }

    /// The socket failed or reached its end: everything pending fails with `error`.
    public mutating func connectionLost(_ error: AMQPError, into out: inout EngineOutput) {
        guard state != .closed, state != .recovering else { return }
        if state == .closing, let request = closeRequest {
            // The broker may close the socket right after close-ok; a close we asked for succeeded.
            closeRequest = nil
            out.events.append(.completion(request, channel: 0, .success(.done)))
            finish(AMQPError(.closedByApplication, "connection closed by the application"), into: &out)
            return
        }
        var error = error
        if !recoveryActive, state == .awaitingTune || state == .awaitingOpenOk, error.kind == .connectionLost {
            error = AMQPError(.authentication, "the broker closed the connection during login (wrong user or password?)")
        }
        end(error, into: &out)
    }

    /// The application freed the connection: it ends now, whatever its state, without recovery,
    /// so every waiter wakes and `connectionClosed` is the last event.
    public mutating func terminate(_ error: AMQPError, into out: inout EngineOutput) {
        guard state != .closed else { return }
        recoveryActive = false
        currentStep = nil
        recoverySteps.removeAll()
        finish(error, into: &out)
    }

    /// The connection ended unexpectedly: recover when configured and sensible, else finish.
    mutating func end(_ error: AMQPError, into out: inout EngineOutput) {
        if shouldRecover(error) {
            enterRecovery(error, into: &out)
        } else {
            recoveryActive = false
            finish(error, into: &out)
        }
    }

    func shouldRecover(_ error: AMQPError) -> Bool {
        guard configuration.recovery != nil else { return false }
        // Attempts during recovery keep going until the policy gives up.
        if recoveryActive { return true }
        // The first connection's failures are the caller's to see, as are our own close and errors
        // that a reconnect would only repeat.
        guard state == .open else { return false }
        switch error.kind {
        case .authentication, .protocolViolation, .frameTooLarge, .messageTooLarge, .unexpectedFrame: return false
        default: return true
        }
    }

    /// The peer sent bytes that are not AMQP: tell it why (connection.close 501/505) and close.
    public mutating func protocolError(_ error: WireError, into out: inout EngineOutput) {
        let kind: ErrorKind
        switch error {
        case .frameTooLarge: kind = .frameTooLarge
        default: kind = .protocolViolation
        }
        violation(kind, code: .frameError, "malformed frame from the broker: \(error)", into: &out)
    }

    mutating func violation(_ kind: ErrorKind, code: ReplyCode, _ text: String, into out: inout EngineOutput) {
        guard state != .closed else { return }
        if state != .idle && state != .awaitingStart {
            var reply = Bytes(String(text.prefix(200)))
            if reply.count > 255 { reply = Bytes("protocol violation") }
            send(channel: 0, .connectionClose(ConnectionClose(replyCode: code.rawValue, replyText: reply, classId: 0, methodId: 0)), into: &out)
        }
        finish(AMQPError(kind, text), into: &out)
    }

    /// Ends the connection: fails every request, emits the final event, asks for the socket to close.
    mutating func finish(_ error: AMQPError, into out: inout EngineOutput) {
        let wasOpen = state == .open || state == .closing
        state = .closed
        deadline = nil
        requestDeadlines.removeAll()
        earliestRequestDeadline = nil
        if let request = openRequest {
            out.events.append(.completion(request, channel: 0, .failure(error)))
            openRequest = nil
        }
        if let request = closeRequest {
            out.events.append(.completion(request, channel: 0, .failure(error)))
            closeRequest = nil
        }
        failSecretUpdates(error, into: &out)
        for number in channels.numbers {
            _ = channels.modify(number) { $0.failAll(error, into: &out) }
        }
        channels.removeAll()
        if wasOpen {
            out.events.append(.log(error.kind == .closedByApplication ? .info : .error, "connection closed: \(error)"))
        }
        out.events.append(.connectionClosed(error))
        out.closeSocket = true
    }

    /// Fails the update-secret requests awaiting their reply (abandoned ones complete nobody).
    mutating func failSecretUpdates(_ error: AMQPError, into out: inout EngineOutput) {
        for request in updateSecretRequests where !abandonedSecretUpdates.contains(request) {
            out.events.append(.completion(request, channel: 0, .failure(error)))
        }
        updateSecretRequests.removeAll()
        abandonedSecretUpdates.removeAll()
    }

    // MARK: - Time

    /// When `tick` must run next (monotonic ns), or nil for never.
    public var nextDeadline: UInt64? {
        guard state == .open || state == .closing else { return deadline }
        return Self.earliest(Self.earliest(deadline, pulse.nextDeadline), earliestRequestDeadline)
    }

    private static func earliest(_ a: UInt64?, _ b: UInt64?) -> UInt64? {
        guard let a else { return b }
        guard let b else { return a }
        return min(a, b)
    }

    /// Bytes arrived (a partial frame counts): the peer is alive.
    public mutating func noteInbound(now: UInt64) { pulse.noteInbound(now: now) }

    /// Bytes left for the peer: no heartbeat is needed for a while.
    public mutating func noteOutbound(now: UInt64) { pulse.noteOutbound(now: now) }

    /// Sends heartbeats when due, and detects a silent peer and expired handshake/close timers.
    public mutating func tick(now: UInt64, into out: inout EngineOutput) {
        if let deadline, now >= deadline {
            switch state {
            case .closing:
                if let request = closeRequest {
                    closeRequest = nil
                    out.events.append(.completion(request, channel: 0, .success(.done)))
                }
                finish(AMQPError(.closedByApplication, "connection closed by the application (no close-ok from the broker in time)"), into: &out)
                return
            case .awaitingStart, .awaitingTune, .awaitingOpenOk:
                end(AMQPError(.timeout, "the AMQP handshake did not finish within \(configuration.connectTimeoutMs) ms"), into: &out)
                return
            default:
                self.deadline = nil
            }
        }
        guard state == .open || state == .closing else { return }
        expireRequests(now: now, into: &out)
        switch pulse.tick(now: now) {
        case .none: return
        case .send:
            out.outbound.writeHeartbeatFrame()
            counters.heartbeatsOut += 1
            counters.framesOut += 1
        case .peerSilent(let silence):
            out.events.append(.log(.error, "missed heartbeats: nothing received for \(silence / 1_000_000) ms"))
            end(AMQPError(.heartbeatTimeout, "no heartbeat from the broker for \(2 * UInt64(heartbeat)) s"), into: &out)
        }
    }

    // MARK: - Inbound frames

    /// A frame as the parser cut it (`FrameParser.nextPayload`), its payload not decoded yet: what
    /// the transport hands over. A consumer's traffic — basic.deliver, content header and body
    /// frames — goes straight to the message under assembly; the rest is decoded into a `Frame`
    /// for `receive(_:now:into:)`. Throws what decoding the payload throws (the connection is then
    /// closed with `protocolError`, as for a framing error).
    public mutating func receive(_ frame: borrowing CutFrame, now: UInt64, into out: inout EngineOutput) throws {
        let type = frame.type, channel = frame.channel
        guard channel != 0, state == .open || state == .closing else {
            receive(try Frame.decode(type: type, channel: channel, payload: frame.payload), now: now, into: &out)
            return
        }
        switch type {
        case AMQPConstants.frameMethod:
            // A raw or unknown channel's basic.deliver takes the general path.
            guard Frame.isDeliver(payload: frame.payload), channels.isRaw(channel) == false else { break }
            let message = newMessage(.delivery, channel: channel) // not pooled again if the frame is malformed: the connection ends
            let fields = try Frame.decodeDeliver(payload: frame.payload, consumerTag: &message.consumerTag,
                                                 exchange: &message.exchange, routingKey: &message.routingKey)
            noteFrame(now: now)
            message.redelivered = fields.redelivered
            if case .violation(let kind, let code, let text) = beginDelivery(message, brokerTag: fields.deliveryTag, channel: channel) {
                violation(kind, code: code, text, into: &out)
            }
            return
        case AMQPConstants.frameHeader:
            let header = try Frame.decodeHeader(payload: frame.payload)
            noteFrame(now: now)
            receiveHeader(channel, header, into: &out)
            return
        case AMQPConstants.frameBody:
            noteFrame(now: now)
            receiveBody(channel, frame.payload, into: &out)
            return
        default:
            break
        }
        receive(try Frame.decode(type: type, channel: channel, payload: frame.payload), now: now, into: &out)
    }

    /// Any frame from the broker: the connection is alive.
    @inline(__always)
    private mutating func noteFrame(now: UInt64) {
        pulse.noteInbound(now: now)
        counters.framesIn += 1
    }

    public mutating func receive(_ frame: Frame, now: UInt64, into out: inout EngineOutput) {
        // Frames read in the same batch after the connection ended belong to nobody.
        if state == .recovering || state == .closed { return }
        noteFrame(now: now)
        switch frame {
        case .heartbeat:
            counters.heartbeatsIn += 1
            return
        case .method(0, let method):
            receiveConnectionMethod(method, into: &out)
        case .method(let channel, let method):
            receiveChannelMethod(channel, method, into: &out)
        case .header(let channel, let header) where channel != 0:
            receiveHeader(channel, header, into: &out)
        case .body(let channel, let body) where channel != 0:
            receiveBody(channel, body, into: &out)
        case .header, .body:
            violation(.unexpectedFrame, code: .unexpectedFrame, "content frame on channel 0", into: &out)
        }
    }
}
