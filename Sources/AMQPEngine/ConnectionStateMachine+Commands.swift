import AMQPWire

/// What the application asks of the engine: channels, requests, acknowledgements, publishes,
/// confirms, raw frames.
extension ConnectionStateMachine {
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

    static func noWaitReply(for method: Method) -> Reply {
        switch method {
        case .queueDeclare(let declare): return .queueDeclared(name: declare.queue, messageCount: 0, consumerCount: 0)
        case .basicConsume(let consume): return .consumerStarted(tag: consume.consumerTag, noAck: consume.noAck)
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
    mutating func noteSuccess(_ method: Method, channel number: UInt16, reply: Reply) {
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
                                 immediate: Bool, properties: borrowing BasicProperties, body: UnsafeRawBufferPointer,
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
        let sequence = inChannel(number) { channel -> UInt64 in
            guard let sequence = channel.confirms?.issue() else { return 0 }
            if mandatory {
                channel.confirms?.noteMandatory(sequence, digest: ConfirmTracker.digest(exchange: exchange, routingKey: routingKey, body: body))
            }
            return sequence
        }
        return .success(sequence ?? 0)
    }

    mutating func writeContent(_ method: Method, properties: BasicProperties, body: UnsafeRawBufferPointer,
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

    /// Why a publish on `number` must wait now (connection blocked, channel flow stopped, too many
    /// unconfirmed), or nil when it may go. Changes nothing; `mutating` because a non-mutating
    /// call from the transport module copied the whole engine first (a 713-byte memcpy per publish).
    public mutating func publishPause(_ number: UInt16) -> String? {
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

    /// Inlined: called on `self` from the mutating commands, it took a copy of the whole engine
    /// (a 713-byte memcpy per publish).
    @inline(__always)
    func usableChannelError(_ number: UInt16) -> AMQPError? {
        if recoveryActive { return AMQPError(.recovering, "the connection is being recovered; retry when it is back", channel: number) }
        guard state == .open else { return notOpenError() }
        // In place: reading channels[number] out would copy the whole channel.
        guard channels.state(of: number) == .open else {
            return AMQPError(.channelClosed, "channel \(number) is not open", channel: number)
        }
        return nil
    }

    func rawChannelError(_ number: UInt16) -> AMQPError? {
        guard channels[number]?.raw == true else { return nil }
        return AMQPError(.badState, "channel \(number) is in raw mode: send its methods with swamqp_send_method", channel: number)
    }

    func notOpenError() -> AMQPError {
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
