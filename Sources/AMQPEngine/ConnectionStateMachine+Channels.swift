import AMQPWire

/// Methods on channels 1 and up: replies matched to the requests awaiting them, broker-initiated
/// closes, cancels and flow, publisher confirms.
extension ConnectionStateMachine {
    // MARK: - Channels

    mutating func receiveChannelMethod(_ number: UInt16, _ method: Method, into out: inout EngineOutput) {
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
        guard let raw = channels.isRaw(number) else {
            out.events.append(.log(.warning, "dropped \(method.name) for unknown channel \(number)"))
            return
        }
        if raw {
            rawMethod(method, channel: number, into: &out)
            return
        }
        switch inChannel(number, { $0.receive(method) }) ?? .none {
        case .none:
            return
        case .unexpected:
            violation(.unexpectedFrame, code: .unexpectedFrame, "unexpected \(method.name) on channel \(number)", into: &out)
        case .opened(let request, let abandoned):
            if recoveryActive, request == nil {
                runNextStep(into: &out)
            } else if abandoned {
                closeUnknownChannel(number, into: &out)
            } else if let request {
                out.events.append(.completion(request, channel: number, .success(.channelOpened(number))))
            }
        case .closedByBroker(let error):
            send(channel: number, .channelCloseOk(ChannelCloseOk()), into: &out)
            if recoveryActive, currentStep != nil, channels[number]?.awaitsRecoveryStep == true {
                recoveryStepFailed(channel: number, error, into: &out)
                return
            }
            out.events.append(.log(.warning, "channel \(number) closed by the broker: \(error)"))
            channelEnded(number, failing: error, reported: error, into: &out)
        case .closeConfirmed(let request):
            if let request { out.events.append(.completion(request, channel: number, .success(.done))) }
            channelEnded(number, failing: AMQPError(.channelClosed, "channel \(number) was closed by the application", channel: number),
                         reported: nil, into: &out)
        case .flow(let active):
            send(channel: number, .channelFlowOk(ChannelFlowOk(active: active)), into: &out)
            out.events.append(.flow(channel: number, active: active))
        case .consumerCancelled(let tag, let nowait):
            if !nowait { send(channel: number, .basicCancelOk(BasicCancelOk(consumerTag: tag)), into: &out) }
            topology.consumerCancelled(tag)
            out.events.append(.log(.warning, "consumer \(tag.lossyString) on channel \(number) cancelled by the broker"))
            out.events.append(.consumerCancelled(channel: number, consumerTag: tag))
        case .returnBegins(let returned):
            let message = newMessage(.returned, channel: number)
            message.replyCode = returned.replyCode
            message.replyText = returned.replyText
            message.exchange = returned.exchange
            message.routingKey = returned.routingKey
            beginContent(ContentAssembler(message: message), channel: number, into: &out)
        case .getOkBegins(let getOk, let head):
            let message = newMessage(.getOk, channel: number)
            let offset = channels[number]?.deliveryTagOffset ?? 0
            message.deliveryTag = getOk.deliveryTag &+ offset
            message.redelivered = getOk.redelivered
            message.exchange = getOk.exchange
            message.routingKey = getOk.routingKey
            message.messageCount = getOk.messageCount
            message.noAck = head.noAck
            inChannel(number) { $0.highestDeliveryTag = max($0.highestDeliveryTag, message.deliveryTag) }
            var assembler = ContentAssembler(message: message, request: head.id)
            assembler.abandoned = head.abandoned
            beginContent(assembler, channel: number, into: &out)
        case .replied(let head, let reply):
            if head.isRecoveryStep {
                recoveryStepSucceeded(reply, into: &out)
                return
            }
            if let sent = head.method { noteSuccess(sent, channel: number, reply: reply) }
            if !head.abandoned {
                out.events.append(.completion(head.id, channel: number, .success(reply)))
            } else if case .consumerStarted(let tag, let noAck) = reply {
                cancelAbandonedConsumer(tag, noAck: noAck, request: head.id, channel: number, into: &out)
            }
        }
    }

    /// A method on a raw channel, handed to the application as its encoded arguments.
    private mutating func rawMethod(_ method: Method, channel number: UInt16, into out: inout EngineOutput) {
        var writer = ByteWriter()
        // Re-encoding a method we just decoded cannot fail: its strings came within limits.
        try? method.encode(into: &writer)
        let arguments = Bytes(Array(writer.buffer.dropFirst(4)))
        out.events.append(.rawFrame(channel: number, RawFrame(kind: .method, classID: method.classID, methodID: method.methodID, payload: arguments)))
        if case .channelCloseOk = method { channels[number] = nil }
    }

    /// Channel `number` is over: what waits on it fails with `failing`, it is forgotten (here and
    /// in the topology records), and CHANNEL_CLOSED reports `reported` (nil: closed by us).
    private mutating func channelEnded(_ number: UInt16, failing: AMQPError, reported: AMQPError?, into out: inout EngineOutput) {
        let generation = channels[number]?.generation ?? 0
        inChannel(number) { $0.failAll(failing, into: &out) }
        channels[number] = nil
        topology.channelEnded(number)
        out.events.append(.channelClosed(channel: number, reported, generation: generation))
    }

    /// A broker ack or nack: reported, then waiters complete once nothing is unconfirmed. In place
    /// (reading the channel out would copy its confirm tracker, whose array would then be copied
    /// again on the first change: an allocation per confirm). False when there is no such channel
    /// or it is raw, for the general path to handle.
    mutating func confirmed(_ number: UInt16, ack: Bool, tag brokerTag: UInt64, multiple: Bool,
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

    /// A message of a return or a get-ok begins on channel `number`.
    private mutating func beginContent(_ assembler: ContentAssembler, channel number: UInt16, into out: inout EngineOutput) {
        guard inChannel(number, { $0.begin(assembler) }) == true else {
            violation(.unexpectedFrame, code: .unexpectedFrame, "a new message began on channel \(number) before the last one ended", into: &out)
            return
        }
    }

    /// Mutates channel `number` in place — reading it out of the table would copy every field
    /// of it (measured: most of the per-delivery cost). Nil when there is no such channel. The
    /// compiler refuses a `body` that touches `self`.
    @inline(__always)
    mutating func inChannel<R>(_ number: UInt16, _ body: (inout ChannelStateMachine) -> R) -> R? {
        channels.modify(number, body)
    }
}
