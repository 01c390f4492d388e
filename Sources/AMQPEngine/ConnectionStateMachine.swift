import AMQPWire

/// The connection's protocol state machine: handshake, channels, heartbeats, close.
///
/// A value with no I/O: the transport feeds it frames, user commands and clock ticks ("now" in
/// monotonic nanoseconds) and carries out what it leaves in an `EngineOutput`: bytes to write,
/// events to deliver, the socket to close. Tests drive it as the broker would.
public struct ConnectionStateMachine {
    public enum State: Equatable, Sendable {
        case idle, awaitingStart, awaitingTune, awaitingOpenOk, open, closing, closed
        /// Lost and waiting for the transport to reconnect (automatic recovery).
        case recovering
    }

    public internal(set) var state: State = .idle
    public let configuration: ConnectionConfiguration
    public private(set) var channelMax: UInt16 = 0
    public private(set) var frameMax: UInt32 = 0
    public private(set) var heartbeat: UInt16 = 0
    public private(set) var serverProperties = FieldTable()
    public internal(set) var blocked = false
    public private(set) var counters = EngineCounters()
    /// How many times a handshake completed (the first connect and every reconnect).
    public private(set) var handshakesCompleted = 0

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
    var updateSecretRequests: [RequestID] = []
    var lastInbound: UInt64 = 0
    var lastOutbound: UInt64 = 0
    var deadline: UInt64?

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
        lastInbound = now
        lastOutbound = now
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
            if let first = closeRequest {
                out.events.append(.completion(request, channel: 0, .success(.done)))
                closeRequest = first
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

    private func shouldRecover(_ error: AMQPError) -> Bool {
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

    private mutating func violation(_ kind: ErrorKind, code: ReplyCode, _ text: String, into out: inout EngineOutput) {
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
        if let request = openRequest {
            out.events.append(.completion(request, channel: 0, .failure(error)))
            openRequest = nil
        }
        if let request = closeRequest {
            out.events.append(.completion(request, channel: 0, .failure(error)))
            closeRequest = nil
        }
        for request in updateSecretRequests { out.events.append(.completion(request, channel: 0, .failure(error))) }
        updateSecretRequests.removeAll()
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

    // MARK: - Time

    /// When `tick` must run next (monotonic ns), or nil for never.
    public var nextDeadline: UInt64? {
        var next = deadline
        if heartbeat > 0 && (state == .open || state == .closing) {
            let interval = UInt64(heartbeat) * 1_000_000_000
            let sendAt = lastOutbound &+ interval / 2
            let deadAt = lastInbound &+ 2 * interval
            next = [next, sendAt, deadAt].compactMap { $0 }.min()
        }
        return next
    }

    /// Bytes arrived (a partial frame counts): the peer is alive.
    public mutating func noteInbound(now: UInt64) { lastInbound = now }

    /// Bytes left for the peer: no heartbeat is needed for a while.
    public mutating func noteOutbound(now: UInt64) { lastOutbound = now }

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
        guard heartbeat > 0, state == .open || state == .closing else { return }
        let interval = UInt64(heartbeat) * 1_000_000_000
        if now &- lastInbound >= 2 * interval {
            out.events.append(.log(.error, "missed heartbeats: nothing received for \((now &- lastInbound) / 1_000_000) ms"))
            end(AMQPError(.heartbeatTimeout, "no heartbeat from the broker for \(2 * UInt64(heartbeat)) s"), into: &out)
            return
        }
        if now &- lastOutbound >= interval / 2 {
            out.outbound.writeHeartbeatFrame()
            counters.heartbeatsOut += 1
            counters.framesOut += 1
            lastOutbound = now
        }
    }

    // MARK: - Inbound frames

    public mutating func receive(_ frame: Frame, now: UInt64, into out: inout EngineOutput) {
        // Frames read in the same batch after the connection ended belong to nobody.
        if state == .recovering || state == .closed { return }
        lastInbound = now
        counters.framesIn += 1
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

    private mutating func receiveConnectionMethod(_ method: Method, into out: inout EngineOutput) {
        switch (state, method) {
        case (.awaitingStart, .connectionStart(let start)):
            serverProperties = start.serverProperties
            let offered = start.mechanisms.lossyString.split(separator: " ").map(String.init)
            guard let mechanism = chooseMechanism(offered) else {
                violation(.authentication, code: .notImplemented,
                          "the broker offers no SASL mechanism we can use (offered: \(offered.joined(separator: " ")))", into: &out)
                return
            }
            state = .awaitingTune
            send(channel: 0, .connectionStartOk(ConnectionStartOk(
                clientProperties: configuration.clientProperties, mechanism: Bytes(mechanism),
                response: saslResponse(mechanism), locale: "en_US")), into: &out)

        case (.awaitingTune, .connectionTune(let tune)):
            channelMax = TuneNegotiation.limit(client: configuration.channelMax, server: tune.channelMax, unlimited: UInt16.max)
            frameMax = TuneNegotiation.limit(client: configuration.frameMax, server: tune.frameMax, unlimited: initialFrameMax)
            if frameMax < 4096 {
                violation(.protocolViolation, code: .notAllowed, "the broker proposed frame_max \(tune.frameMax), below 4096", into: &out)
                return
            }
            heartbeat = TuneNegotiation.heartbeat(client: configuration.heartbeat, server: tune.heartbeat)
            out.newFrameMax = frameMax
            send(channel: 0, .connectionTuneOk(ConnectionTuneOk(channelMax: channelMax, frameMax: frameMax, heartbeat: heartbeat)), into: &out)
            send(channel: 0, .connectionOpen(ConnectionOpen(virtualHost: Bytes(configuration.virtualHost))), into: &out)
            state = .awaitingOpenOk

        case (.awaitingOpenOk, .connectionOpenOk):
            state = .open
            deadline = nil
            handshakesCompleted += 1
            if recoveryActive {
                out.events.append(.log(.info, "reconnected to \(configuration.host) (heartbeat \(heartbeat) s); restoring channels and topology"))
                beginRestore(into: &out)
                return
            }
            out.events.append(.log(.info, "connected to \(configuration.host):\(configuration.port) vhost \(configuration.virtualHost) (heartbeat \(heartbeat) s, frame_max \(frameMax), channel_max \(channelMax))"))
            if let request = openRequest {
                openRequest = nil
                out.events.append(.completion(request, channel: 0, .success(.done)))
            }

        case (_, .connectionClose(let close)):
            send(channel: 0, .connectionCloseOk(ConnectionCloseOk()), into: &out)
            let duringLogin = state == .awaitingTune || state == .awaitingOpenOk
            let kind: ErrorKind = duringLogin && (close.replyCode == 403 || close.replyCode == 530) ? .authentication : .connectionClosed
            end(AMQPError(brokerClose: kind, replyCode: close.replyCode, replyText: close.replyText,
                          classID: close.classId, methodID: close.methodId, channel: 0), into: &out)

        case (.closing, .connectionCloseOk):
            if let request = closeRequest {
                closeRequest = nil
                out.events.append(.completion(request, channel: 0, .success(.done)))
            }
            finish(AMQPError(.closedByApplication, "connection closed by the application"), into: &out)

        case (.open, .connectionBlocked(let blockedMethod)), (.closing, .connectionBlocked(let blockedMethod)):
            blocked = true
            out.events.append(.log(.warning, "connection blocked by the broker: \(blockedMethod.reason.lossyString)"))
            out.events.append(.blocked(reason: blockedMethod.reason))

        case (.open, .connectionUpdateSecretOk):
            guard !updateSecretRequests.isEmpty else { fallthrough }
            out.events.append(.completion(updateSecretRequests.removeFirst(), channel: 0, .success(.done)))

        case (.open, .connectionUnblocked), (.closing, .connectionUnblocked):
            blocked = false
            out.events.append(.log(.info, "connection unblocked"))
            out.events.append(.unblocked)

        case (.closing, _):
            return // after our close, everything but close/close-ok is discarded

        default:
            violation(.unexpectedFrame, code: .unexpectedFrame, "unexpected \(method.name) in state \(state)", into: &out)
        }
    }

    private func chooseMechanism(_ offered: [String]) -> String? {
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
    private func saslResponse(_ mechanism: String) -> Bytes {
        if mechanism == "EXTERNAL" { return Bytes() }
        if mechanism == "AMQPLAIN" {
            var writer = ByteWriter()
            // Entries of at most 65535-byte strings each: encoding cannot fail for them.
            try? writer.writeTable(["LOGIN": .longString(Bytes(configuration.user)), "PASSWORD": .longString(Bytes(configuration.password))])
            return Bytes(Array(writer.buffer.dropFirst(4)))
        }
        return Bytes([0] + Array(configuration.user.utf8) + [0] + Array(configuration.password.utf8))
    }

    // MARK: - Channels

    private mutating func receiveChannelMethod(_ number: UInt16, _ method: Method, into out: inout EngineOutput) {
        guard state == .open || state == .closing else {
            if state != .closed {
                violation(.unexpectedFrame, code: .unexpectedFrame, "\(method.name) on channel \(number) before the connection opened", into: &out)
            }
            return
        }
        if case .basicDeliver(let deliver) = method, let outcome = beginDelivery(deliver, channel: number) {
            if case .violation(let kind, let code, let text) = outcome { violation(kind, code: code, text, into: &out) }
            return
        }
        switch method {
        case .basicAck(let ack) where confirmed(number, ack: true, tag: ack.deliveryTag, multiple: ack.multiple, into: &out): return
        case .basicNack(let nack) where confirmed(number, ack: false, tag: nack.deliveryTag, multiple: nack.multiple, into: &out): return
        default: break
        }
        guard var channel = channels[number] else {
            out.events.append(.log(.warning, "dropped \(method.name) for unknown channel \(number)"))
            return
        }
        if channel.raw {
            var writer = ByteWriter()
            // Re-encoding a method we just decoded cannot fail: its strings came within limits.
            try? method.encode(into: &writer)
            let arguments = Bytes(Array(writer.buffer.dropFirst(4)))
            out.events.append(.rawFrame(channel: number, RawFrame(kind: .method, classID: method.classID, methodID: method.methodID, payload: arguments)))
            if case .channelCloseOk = method { channels[number] = nil }
            return
        }
        if channel.state == .closing {
            // Between our channel.close and its close-ok other methods are discarded, as AMQP asks;
            // content (deliveries, returns) and confirms still reach the application: a no-ack
            // delivery discarded here would be lost, the broker counts it delivered.
            switch method {
            case .channelCloseOk, .channelClose, .basicReturn: break
            default: return
            }
        }
        switch method {
        case .channelOpenOk:
            guard channel.state == .opening else { break }
            channel.state = .open
            if recoveryActive, channel.openRequest == nil {
                channels[number] = channel
                runNextStep(into: &out)
                return
            }
            if channel.openAbandoned {
                // Nobody holds this channel's number: close it again rather than leak it.
                channel.openAbandoned = false
                channel.state = .closing
                channels[number] = channel
                send(channel: number, .channelClose(ChannelClose(replyCode: 200, replyText: "Goodbye", classId: 0, methodId: 0)), into: &out)
                return
            }
            if let request = channel.openRequest {
                channel.openRequest = nil
                out.events.append(.completion(request, channel: number, .success(.channelOpened(number))))
            }
            channels[number] = channel
            return

        case .channelClose(let close):
            send(channel: number, .channelCloseOk(ChannelCloseOk()), into: &out)
            let error = AMQPError(brokerClose: .channelClosed, replyCode: close.replyCode, replyText: close.replyText,
                                  classID: close.classId, methodID: close.methodId, channel: number)
            if recoveryActive, currentStep != nil, channel.pending.contains(where: { $0.isRecoveryStep }) || channel.state == .opening {
                channels[number] = channel
                recoveryStepFailed(channel: number, error, into: &out)
                return
            }
            channel.failAll(error, into: &out)
            channels[number] = nil
            topology.channelEnded(number)
            out.events.append(.log(.warning, "channel \(number) closed by the broker: \(error)"))
            out.events.append(.channelClosed(channel: number, error))
            return

        case .channelCloseOk:
            guard channel.state == .closing else { break }
            if let request = channel.closeRequest {
                channel.closeRequest = nil
                out.events.append(.completion(request, channel: number, .success(.done)))
            }
            channel.failAll(AMQPError(.channelClosed, "channel \(number) was closed by the application", channel: number), into: &out)
            channels[number] = nil
            topology.channelEnded(number)
            out.events.append(.channelClosed(channel: number, nil))
            return

        case .channelFlow(let flow):
            channel.flowActive = flow.active
            channels[number] = channel
            send(channel: number, .channelFlowOk(ChannelFlowOk(active: flow.active)), into: &out)
            out.events.append(.flow(channel: number, active: flow.active))
            return

        case .basicDeliver:
            return // beginDelivery took it before the channel was read out

        case .basicReturn(let returned):
            let message = newMessage(.returned, channel: number)
            message.replyCode = returned.replyCode
            message.replyText = returned.replyText
            message.exchange = returned.exchange
            message.routingKey = returned.routingKey
            beginContent(&channel, ContentAssembly(message: message), number, into: &out)
            return

        case .basicGetOk(let getOk):
            guard let index = channel.pendingIndex(answering: BasicGet.classID, BasicGetOk.methodID) else { break }
            let head = channel.pending.remove(at: index)
            let message = newMessage(.getOk, channel: number)
            message.deliveryTag = getOk.deliveryTag &+ channel.deliveryTagOffset
            channel.highestDeliveryTag = max(channel.highestDeliveryTag, message.deliveryTag)
            message.redelivered = getOk.redelivered
            message.exchange = getOk.exchange
            message.routingKey = getOk.routingKey
            message.messageCount = getOk.messageCount
            var assembly = ContentAssembly(message: message, request: head.id)
            assembly.abandoned = head.abandoned
            assembly.noAck = head.noAck
            beginContent(&channel, assembly, number, into: &out)
            return

        case .basicAck, .basicNack:
            return // taken by the in-place path before the channel was read out

        case .basicCancel(let cancel):
            if !cancel.nowait {
                send(channel: number, .basicCancelOk(BasicCancelOk(consumerTag: cancel.consumerTag)), into: &out)
            }
            topology.consumerCancelled(cancel.consumerTag)
            out.events.append(.log(.warning, "consumer \(cancel.consumerTag.lossyString) on channel \(number) cancelled by the broker"))
            out.events.append(.consumerCancelled(channel: number, consumerTag: cancel.consumerTag))
            return

        default:
            if let index = channel.pendingIndex(answering: method.classID, method.methodID, consumerTag: Self.consumerTag(of: method)) {
                let head = channel.pending.remove(at: index)
                channels[number] = channel
                let reply = Self.reply(for: method)
                if head.isRecoveryStep {
                    recoveryStepSucceeded(reply, into: &out)
                    return
                }
                if let sent = head.method { noteSuccess(sent, channel: number, reply: reply) }
                if !head.abandoned { out.events.append(.completion(head.id, channel: number, .success(reply))) }
                return
            }
        }
        violation(.unexpectedFrame, code: .unexpectedFrame, "unexpected \(method.name) on channel \(number)", into: &out)
    }

    /// A broker ack or nack: reported, then waiters complete once nothing is unconfirmed. In place
    /// (reading the channel out would copy its confirm tracker, whose array would then be copied
    /// again on the first change: an allocation per confirm). False when there is no such channel
    /// or it is raw, for the general path to handle.
    private mutating func confirmed(_ number: UInt16, ack: Bool, tag brokerTag: UInt64, multiple: Bool,
                                    into out: inout EngineOutput) -> Bool {
        guard channels.isRaw(number) == false else { return false }
        let covered = inChannel(number) { channel -> Int in
            guard channel.confirms != nil else {
                out.events.append(.confirm(channel: number, ack: ack, deliveryTag: brokerTag, multiple: multiple))
                return 0
            }
            let tag = brokerTag &+ (channel.confirms?.brokerOffset ?? 0)
            out.events.append(.confirm(channel: number, ack: ack, deliveryTag: tag, multiple: multiple))
            let covered = channel.confirms?.confirm(tag, multiple: multiple) ?? 0
            if !ack { channel.confirms?.nackedSinceWait = true }
            channel.confirms?.completeSettledWaiters(channel: number, into: &out)
            return covered
        } ?? 0
        if ack { counters.confirmsAcked += UInt64(covered) } else { counters.confirmsNacked += UInt64(covered) }
        return true
    }

    /// The consumer tag a consume-ok or cancel-ok carries (see `ChannelStateMachine.pendingIndex`).
    private static func consumerTag(of reply: Method) -> Bytes? {
        switch reply {
        case .basicConsumeOk(let ok): return ok.consumerTag
        case .basicCancelOk(let ok): return ok.consumerTag
        default: return nil
        }
    }

    private static func reply(for method: Method) -> Reply {
        switch method {
        case .queueDeclareOk(let ok): return .queueDeclared(name: ok.queue, messageCount: ok.messageCount, consumerCount: ok.consumerCount)
        case .queuePurgeOk(let ok): return .messageCount(ok.messageCount)
        case .queueDeleteOk(let ok): return .messageCount(ok.messageCount)
        case .basicConsumeOk(let ok): return .consumerTag(ok.consumerTag)
        case .basicCancelOk(let ok): return .consumerTag(ok.consumerTag)
        case .basicGetEmpty: return .empty
        default: return .done
        }
    }

    private mutating func beginContent(_ channel: inout ChannelStateMachine, _ assembly: ContentAssembly, _ number: UInt16,
                                       into out: inout EngineOutput) {
        guard channel.assembly == nil else {
            violation(.unexpectedFrame, code: .unexpectedFrame, "a new message began on channel \(number) before the last one ended", into: &out)
            return
        }
        channel.assembly = assembly
        channels[number] = channel
    }

    /// Mutates channel `number` in place — reading it out of the dictionary would copy every field
    /// of it (measured: most of the per-delivery cost). Nil when there is no such channel. The
    /// compiler refuses a `body` that touches `self`.
    @inline(__always)
    private mutating func inChannel<R>(_ number: UInt16, _ body: (inout ChannelStateMachine) -> R) -> R? {
        channels.modify(number, body)
    }

    /// The hot path of basic.deliver, in place; nil leaves the frame to the general path (no such
    /// channel, or a raw one).
    private mutating func beginDelivery(_ deliver: BasicDeliver, channel number: UInt16) -> ContentOutcome? {
        guard channels.isRaw(number) == false else { return nil }
        let message = newMessage(.delivery, channel: number)
        let outcome = inChannel(number) { channel -> ContentOutcome? in
            guard channel.assembly == nil else {
                return .violation(.unexpectedFrame, .unexpectedFrame, "a new message began on channel \(number) before the last one ended")
            }
            message.consumerTag = deliver.consumerTag
            message.deliveryTag = deliver.deliveryTag &+ channel.deliveryTagOffset
            message.redelivered = deliver.redelivered
            message.exchange = deliver.exchange
            message.routingKey = deliver.routingKey
            channel.highestDeliveryTag = max(channel.highestDeliveryTag, message.deliveryTag)
            channel.assembly = ContentAssembly(message: message)
            return .nothing
        }
        return outcome ?? nil
    }

    /// A received-message object: one the application is done with when there is one (`reuse`),
    /// so a steady stream of deliveries allocates none.
    private mutating func newMessage(_ kind: InboundMessage.Kind, channel: UInt16) -> InboundMessage {
        guard let message = messagePool.popLast() else { return InboundMessage(kind: kind, channel: channel) }
        message.kind = kind
        message.channel = channel
        return message
    }

    /// Takes back a message the application has been handed, when nothing else refers to it.
    public mutating func reuse(_ message: inout InboundMessage?) {
        guard messagePool.count < Self.messagePoolLimit, isKnownUniquelyReferenced(&message), let spare = message else { return }
        message = nil
        spare.clear()
        messagePool.append(spare)
    }

    /// Enough for a full event queue plus the batch the application holds.
    private static let messagePoolLimit = 4096

    /// What a content frame did to its channel's message under assembly.
    private enum ContentOutcome {
        case nothing, raw, complete(ContentAssembly), violation(ErrorKind, ReplyCode, String)
    }

    private mutating func receiveHeader(_ number: UInt16, _ header: ContentHeader, into out: inout EngineOutput) {
        guard state == .open || state == .closing else { return }
        let maxSize = configuration.maxMessageSize
        let outcome = inChannel(number) { channel -> ContentOutcome in
            if channel.raw { return .raw }
            guard channel.assembly?.headerSeen == false else {
                return .violation(.unexpectedFrame, .unexpectedFrame, "content header without a method on channel \(number)")
            }
            // max_message_size may be set above Int.max ("no limit"): the size must fit an Int too.
            guard header.bodySize <= maxSize, let size = Int(exactly: header.bodySize) else {
                return .violation(.messageTooLarge, .frameError, "a message of \(header.bodySize) bytes exceeds max_message_size \(maxSize)")
            }
            channel.assembly?.headerSeen = true
            channel.assembly?.bodySize = size
            channel.assembly?.message.properties = header.properties
            guard header.bodySize == 0 else { return .nothing }
            var done: ContentAssembly?
            swap(&done, &channel.assembly)
            return done.map { .complete($0) } ?? .nothing
        } ?? .nothing
        switch outcome {
        case .nothing: return
        case .raw:
            var writer = ByteWriter()
            try? header.encode(into: &writer) // a header we just decoded re-encodes within limits
            out.events.append(.rawFrame(channel: number, RawFrame(kind: .header, payload: Bytes(writer.buffer))))
        case .complete(let assembly): deliver(assembly, into: &out)
        case .violation(let kind, let code, let text): violation(kind, code: code, text, into: &out)
        }
    }

    private mutating func receiveBody(_ number: UInt16, _ body: Bytes, into out: inout EngineOutput) {
        guard state == .open || state == .closing else { return }
        let outcome = inChannel(number) { channel -> ContentOutcome in
            if channel.raw { return .raw }
            guard channel.assembly?.headerSeen == true, let total = channel.assembly?.bodySize, let received = channel.assembly?.received else {
                return .violation(.unexpectedFrame, .unexpectedFrame, "body frame without a content header on channel \(number)")
            }
            guard body.count <= total - received else {
                return .violation(.protocolViolation, .frameError, "body frames on channel \(number) exceed the announced size")
            }
            if received == 0 && body.count == total {
                channel.assembly?.message.body = body // the whole body in one frame: no copy
                channel.assembly?.received = total
            } else {
                if channel.assembly?.storage == nil {
                    guard let storage = ByteStorage(capacity: total) else {
                        return .violation(.messageTooLarge, .internalError, "could not allocate \(total) bytes for a message")
                    }
                    channel.assembly?.storage = storage
                }
                if let storage = channel.assembly?.storage, let source = body.baseAddress {
                    (storage.base + received).copyMemory(from: source, byteCount: body.count)
                }
                channel.assembly?.received = received + body.count
                if received + body.count == total, let storage = channel.assembly?.storage {
                    channel.assembly?.message.body = Bytes(storage: storage, offset: 0, count: total)
                }
            }
            guard channel.assembly?.received == total else { return .nothing }
            var done: ContentAssembly?
            swap(&done, &channel.assembly)
            return done.map { .complete($0) } ?? .nothing
        } ?? .nothing
        switch outcome {
        case .nothing: return
        case .raw: out.events.append(.rawFrame(channel: number, RawFrame(kind: .body, payload: body)))
        case .complete(let assembly): deliver(assembly, into: &out)
        case .violation(let kind, let code, let text): violation(kind, code: code, text, into: &out)
        }
    }

    private mutating func deliver(_ assembly: ContentAssembly, into out: inout EngineOutput) {
        switch assembly.message.kind {
        case .delivery:
            counters.deliveries += 1
            out.events.append(.delivery(assembly.message))
        case .returned:
            counters.returns += 1
            out.events.append(.returned(assembly.message))
        case .getOk:
            counters.deliveries += 1
            let message = assembly.message
            if assembly.abandoned {
                lateGetReply(message, noAck: assembly.noAck, into: &out)
            } else if let request = assembly.request {
                out.events.append(.completion(request, channel: message.channel, .success(.message(message))))
            }
        }
    }

    /// The get-ok of a basic.get whose caller gave up: the message must not be lost.
    private mutating func lateGetReply(_ message: InboundMessage, noAck: Bool, into out: inout EngineOutput) {
        let number = message.channel
        if noAck {
            out.events.append(.log(.warning, "basic.get on channel \(number) answered after its caller gave up; the no-ack message is handed out as a late event"))
            out.events.append(.lateGetMessage(message))
            return
        }
        let offset = channels[number]?.deliveryTagOffset ?? 0
        out.events.append(.log(.info, "basic.get on channel \(number) answered after its caller gave up; the message goes back to the queue"))
        send(channel: number, .basicReject(BasicReject(deliveryTag: message.deliveryTag &- offset, requeue: true)), into: &out)
    }

    // MARK: - Commands from the application

    /// Opens a channel on the lowest free number.
    public mutating func openChannel(request: RequestID, into out: inout EngineOutput) -> Result<UInt16, AMQPError> {
        guard state == .open, !recoveryActive else { return .failure(notOpenError()) }
        let limit = channelMax == 0 ? UInt16.max : channelMax
        var number: UInt16 = 1
        while channels[number] != nil {
            guard number < limit else {
                return .failure(AMQPError(.channelLimit, "all \(limit) channels are in use"))
            }
            number += 1
        }
        channels[number] = ChannelStateMachine(number: number, openRequest: request)
        send(channel: number, .channelOpen(ChannelOpen()), into: &out)
        return .success(number)
    }

    /// Closes a channel with reply 200; closing an unknown (already closed) channel succeeds at once.
    public mutating func closeChannel(_ number: UInt16, request: RequestID, into out: inout EngineOutput) {
        guard state == .open else {
            out.events.append(.completion(request, channel: number, .failure(notOpenError())))
            return
        }
        guard var channel = channels[number] else {
            out.events.append(.completion(request, channel: number, .success(.done)))
            return
        }
        if channel.state == .closing {
            out.events.append(.completion(request, channel: number, .success(.done)))
            return
        }
        channel.state = .closing
        channel.closeRequest = request
        channels[number] = channel
        send(channel: number, .channelClose(ChannelClose(replyCode: 200, replyText: "Goodbye", classId: 0, methodId: 0)), into: &out)
    }

    /// Sends a synchronous method and queues `request` for its reply; with `noWait` the request
    /// completes once the frame is queued.
    public mutating func call(_ method: Method, channel number: UInt16, noWait: Bool, request: RequestID,
                              into out: inout EngineOutput) {
        if let error = usableChannelError(number) ?? rawChannelError(number) {
            out.events.append(.completion(request, channel: number, .failure(error)))
            return
        }
        if let error = write(method, channel: number, into: &out) {
            out.events.append(.completion(request, channel: number, .failure(error)))
            return
        }
        if case .confirmSelect = method, channels[number]?.confirms == nil {
            // Publishes after the select are numbered from 1, whether or not select-ok has arrived.
            channels[number]?.confirms = ConfirmTracker()
        }
        if noWait {
            let reply = Self.noWaitReply(for: method)
            noteSuccess(method, channel: number, reply: reply)
            out.events.append(.completion(request, channel: number, .success(reply)))
        } else {
            // The sent method is kept only for recovery to record on success.
            channels[number]?.pending.append(PendingRequest(id: request, awaiting: method,
                                                            sent: configuration.recovery == nil ? nil : method))
        }
    }

    private static func noWaitReply(for method: Method) -> Reply {
        switch method {
        case .queueDeclare(let declare): return .queueDeclared(name: declare.queue, messageCount: 0, consumerCount: 0)
        case .basicConsume(let consume): return .consumerTag(consume.consumerTag)
        case .basicCancel(let cancel): return .consumerTag(cancel.consumerTag)
        default: return .done
        }
    }

    /// Encodes one method frame, or leaves the buffer as it was and returns why it could not.
    mutating func write(_ method: Method, channel number: UInt16, into out: inout EngineOutput) -> AMQPError? {
        let start = out.outbound.count
        do {
            try out.outbound.writeMethodFrame(channel: number, method)
        } catch {
            out.outbound.buffer.removeSubrange(start...)
            return AMQPError(.invalidArgument, "\(error)", channel: number)
        }
        counters.framesOut += 1
        return nil
    }

    /// Records what a successful request changed, for recovery.
    private mutating func noteSuccess(_ method: Method, channel number: UInt16, reply: Reply) {
        guard configuration.recovery != nil else { return }
        switch method {
        case .basicQos(let qos): channels[number]?.qos[qos.global] = qos
        case .txSelect: channels[number]?.transactional = true
        default: topology.record(method, channel: number, reply: reply)
        }
    }

    public enum Acknowledgement: Sendable { case ack, nack(requeue: Bool), reject(requeue: Bool) }

    /// basic.ack, nack or reject for a delivery tag the application saw. A tag from before a
    /// recovery is not sent (the broker would close the channel for it) and reported instead.
    public mutating func acknowledge(_ kind: Acknowledgement, deliveryTag: UInt64, multiple: Bool, channel number: UInt16,
                                     into out: inout EngineOutput) -> AMQPError? {
        if let error = usableChannelError(number) { return error }
        let offset = channels[number]?.deliveryTagOffset ?? 0
        if deliveryTag != 0 && deliveryTag <= offset {
            return AMQPError(.staleDeliveryTag, "delivery tag \(deliveryTag) on channel \(number) is from before the connection was recovered; the broker will redeliver that message", channel: number)
        }
        let tag = deliveryTag == 0 ? 0 : deliveryTag - offset
        switch kind {
        case .ack: return write(.basicAck(BasicAck(deliveryTag: tag, multiple: multiple)), channel: number, into: &out)
        case .nack(let requeue): return write(.basicNack(BasicNack(deliveryTag: tag, multiple: multiple, requeue: requeue)), channel: number, into: &out)
        case .reject(let requeue): return write(.basicReject(BasicReject(deliveryTag: tag, requeue: requeue)), channel: number, into: &out)
        }
    }

    /// Sends an asynchronous method (ack, nack, reject): no reply is expected.
    public mutating func send(_ method: Method, channel number: UInt16, into out: inout EngineOutput) -> AMQPError? {
        if let error = usableChannelError(number) { return error }
        return write(method, channel: number, into: &out)
    }

    /// basic.publish with its header and body frames; returns the publish's confirm sequence
    /// number on a channel in confirm mode, else 0.
    public mutating func publish(_ publish: BasicPublish, properties: BasicProperties, body: UnsafeRawBufferPointer,
                                 channel number: UInt16, into out: inout EngineOutput) -> Result<UInt64, AMQPError> {
        publish.exchange.withUnsafeBytes { exchange in
            publish.routingKey.withUnsafeBytes { routingKey in
                self.publish(exchange: exchange, routingKey: routingKey, mandatory: publish.mandatory, immediate: publish.immediate,
                             properties: properties, body: body, channel: number, into: &out)
            }
        }
    }

    /// basic.publish from the caller's memory (read during the call only): the frames are encoded
    /// straight into the outbound buffer.
    public mutating func publish(exchange: UnsafeRawBufferPointer, routingKey: UnsafeRawBufferPointer, mandatory: Bool,
                                 immediate: Bool, properties: BasicProperties, body: UnsafeRawBufferPointer,
                                 channel number: UInt16, into out: inout EngineOutput) -> Result<UInt64, AMQPError> {
        if let error = usableChannelError(number) { return .failure(error) }
        let start = out.outbound.count
        do {
            try out.outbound.writePublish(channel: number, exchange: exchange, routingKey: routingKey, mandatory: mandatory,
                                          immediate: immediate, properties: properties, body: body, frameMax: frameMax)
        } catch {
            out.outbound.buffer.removeSubrange(start...)
            return .failure(AMQPError(.invalidArgument, "\(error)", channel: number))
        }
        let chunk = max(Int(frameMax) - frameOverhead, 1)
        counters.framesOut += 2 + UInt64((body.count + chunk - 1) / chunk)
        counters.publishes += 1
        let sequence = inChannel(number) { channel -> UInt64 in channel.confirms?.issue() ?? 0 }
        return .success(sequence ?? 0)
    }

    private mutating func writeContent(_ method: Method, properties: BasicProperties, body: UnsafeRawBufferPointer,
                                       channel number: UInt16, into out: inout EngineOutput) -> AMQPError? {
        let start = out.outbound.count
        do {
            try out.outbound.writeContent(channel: number, method: method, properties: properties, body: body, frameMax: frameMax)
        } catch {
            out.outbound.buffer.removeSubrange(start...)
            return AMQPError(.invalidArgument, "\(error)", channel: number)
        }
        let chunk = max(Int(frameMax) - frameOverhead, 1)
        counters.framesOut += 2 + UInt64((body.count + chunk - 1) / chunk)
        return nil
    }

    /// Whether channel `number` is in confirm mode (publishes on it await confirms).
    public func isConfirming(_ number: UInt16) -> Bool {
        channels.publishState(of: number)?.unconfirmed != nil
    }

    /// Why a publish on `number` must wait now (connection blocked, channel flow stopped, too many
    /// unconfirmed), or nil when it may go.
    public func publishPause(_ number: UInt16) -> String? {
        if recoveryActive { return "the connection is being recovered" }
        if blocked { return "the broker blocked the connection (connection.blocked)" }
        guard let channel = channels.publishState(of: number) else { return nil }
        if !channel.flowActive { return "the broker stopped channel \(number) (channel.flow)" }
        if let unconfirmed = channel.unconfirmed, configuration.maxUnconfirmed > 0, unconfirmed >= Int(configuration.maxUnconfirmed) {
            return "\(unconfirmed) publishes on channel \(number) await confirms (max_unconfirmed)"
        }
        return nil
    }

    /// Completes `request` once every publish so far on the channel is confirmed.
    public mutating func waitForConfirms(channel number: UInt16, request: RequestID, into out: inout EngineOutput) {
        if let error = usableChannelError(number) {
            out.events.append(.completion(request, channel: number, .failure(error)))
            return
        }
        guard var channel = channels[number], var confirms = channel.confirms else {
            out.events.append(.completion(request, channel: number,
                                          .failure(AMQPError(.notConfirmMode, "channel \(number) is not in confirm mode (confirm.select)", channel: number))))
            return
        }
        let upTo = confirms.nextSequence - 1
        if confirms.settled(upTo: upTo) {
            let nacked = confirms.nackedSinceWait
            confirms.nackedSinceWait = false
            out.events.append(.completion(request, channel: number, nacked
                ? .failure(AMQPError(.nacked, "the broker nacked a publish on channel \(number)", channel: number)) : .success(.done)))
        } else {
            confirms.waiters.append((request, upTo))
        }
        channel.confirms = confirms
        channels[number] = channel
    }

    /// A blocking caller gave up waiting for `request` (its timeout passed). Its reply, when it
    /// comes, completes nobody: a confirm wait is forgotten (it must not take the next wait's
    /// news), a channel that opens is closed again, and a basic.get's message is handed back to
    /// the queue (basic.reject with requeue) or, with no-ack, handed out as `lateGetMessage`.
    public mutating func abandon(_ request: RequestID) {
        for number in channels.numbers {
            inChannel(number) { channel in
                if channel.confirms?.waiters.contains(where: { $0.id == request }) == true {
                    channel.confirms?.waiters.removeAll { $0.id == request }
                }
                if channel.openRequest == request {
                    channel.openRequest = nil
                    channel.openAbandoned = true
                }
                if let index = channel.pending.firstIndex(where: { $0.id == request }) {
                    channel.pending[index].abandoned = true
                }
                if channel.assembly?.request == request { channel.assembly?.abandoned = true }
            }
        }
    }

    /// connection.update-secret.
    public mutating func updateSecret(_ secret: Bytes, reason: Bytes, request: RequestID, into out: inout EngineOutput) {
        guard state == .open, !recoveryActive else {
            out.events.append(.completion(request, channel: 0, .failure(notOpenError())))
            return
        }
        if let error = write(.connectionUpdateSecret(ConnectionUpdateSecret(newSecret: secret, reason: reason)), channel: 0, into: &out) {
            out.events.append(.completion(request, channel: 0, .failure(error)))
            return
        }
        updateSecretRequests.append(request)
    }

    /// Switches a channel into or out of raw mode.
    public mutating func setRaw(_ number: UInt16, _ raw: Bool) -> AMQPError? {
        if let error = usableChannelError(number) { return error }
        channels[number]?.raw = raw
        return nil
    }

    /// Sends a method the application encoded itself, on an open (possibly raw) channel.
    public mutating func sendRaw(_ method: Method, channel number: UInt16, into out: inout EngineOutput) -> AMQPError? {
        guard number != 0 else { return AMQPError(.badState, "raw methods cannot be sent on channel 0 (the connection's own)") }
        if let error = usableChannelError(number) { return error }
        if let error = write(method, channel: number, into: &out) { return error }
        if case .channelCloseOk = method, channels[number]?.raw == true { channels[number] = nil }
        return nil
    }

    /// Sends a content-carrying method the application encoded itself.
    public mutating func sendRawContent(_ method: Method, properties: BasicProperties, body: UnsafeRawBufferPointer,
                                        channel number: UInt16, into out: inout EngineOutput) -> AMQPError? {
        guard number != 0 else { return AMQPError(.badState, "content cannot be sent on channel 0") }
        guard method.hasContent else { return AMQPError(.invalidArgument, "\(method.name) carries no content") }
        if let error = usableChannelError(number) { return error }
        if let error = writeContent(method, properties: properties, body: body, channel: number, into: &out) { return error }
        if case .basicPublish = method {
            counters.publishes += 1
            _ = channels[number]?.confirms?.issue()
        }
        return nil
    }

    /// True when the channel exists and is open.
    public func isChannelOpen(_ number: UInt16) -> Bool { channels[number]?.state == .open }

    private func usableChannelError(_ number: UInt16) -> AMQPError? {
        if recoveryActive { return AMQPError(.recovering, "the connection is being recovered; retry when it is back", channel: number) }
        guard state == .open else { return notOpenError() }
        // In place: reading channels[number] out would copy the whole channel.
        guard channels.state(of: number) == .open else {
            return AMQPError(.channelClosed, "channel \(number) is not open", channel: number)
        }
        return nil
    }

    private func rawChannelError(_ number: UInt16) -> AMQPError? {
        guard channels[number]?.raw == true else { return nil }
        return AMQPError(.badState, "channel \(number) is in raw mode: send its methods with swamqp_send_method", channel: number)
    }

    private func notOpenError() -> AMQPError {
        if recoveryActive { return AMQPError(.recovering, "the connection is being recovered; retry when it is back") }
        switch state {
        case .closed, .closing: return AMQPError(.connectionClosed, "the connection is closed")
        default: return AMQPError(.badState, "the connection is not open yet")
        }
    }

    mutating func send(channel: UInt16, _ method: Method, into out: inout EngineOutput) {
        // Methods the engine itself builds have short strings within limits; a failure here would be
        // a bug, reported rather than trapped.
        if let error = write(method, channel: channel, into: &out) {
            out.events.append(.log(.error, "internal: could not encode \(method.name): \(error)"))
        }
    }
}
