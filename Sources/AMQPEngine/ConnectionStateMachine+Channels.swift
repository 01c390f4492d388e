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
            out.events.append(.channelClosed(channel: number, error, generation: channel.generation))
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
            out.events.append(.channelClosed(channel: number, nil, generation: channel.generation))
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
            message.noAck = head.noAck
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
                if case .basicCancelOk(let ok) = method, channel.abandonedConsumers.removeValue(forKey: ok.consumerTag) != nil {
                    channels[number] = channel
                    return // the cancel of an abandoned consume (see cancelAbandonedConsumer)
                }
                channels[number] = channel
                let reply = Self.reply(for: method, noAck: head.noAck)
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
                return
            }
        }
        violation(.unexpectedFrame, code: .unexpectedFrame, "unexpected \(method.name) on channel \(number)", into: &out)
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

    /// The consumer tag a consume-ok or cancel-ok carries (see `ChannelStateMachine.pendingIndex`).
    static func consumerTag(of reply: Method) -> Bytes? {
        switch reply {
        case .basicConsumeOk(let ok): return ok.consumerTag
        case .basicCancelOk(let ok): return ok.consumerTag
        default: return nil
        }
    }

    /// The reply `method` completes its request with (`noAck`: the request's, for consume-ok).
    static func reply(for method: Method, noAck: Bool = false) -> Reply {
        switch method {
        case .queueDeclareOk(let ok): return .queueDeclared(name: ok.queue, messageCount: ok.messageCount, consumerCount: ok.consumerCount)
        case .queuePurgeOk(let ok): return .messageCount(ok.messageCount)
        case .queueDeleteOk(let ok): return .messageCount(ok.messageCount)
        case .basicConsumeOk(let ok): return .consumerStarted(tag: ok.consumerTag, noAck: noAck)
        case .basicCancelOk(let ok): return .consumerTag(ok.consumerTag)
        case .basicGetEmpty: return .empty
        default: return .done
        }
    }

    mutating func beginContent(_ channel: inout ChannelStateMachine, _ assembly: ContentAssembly, _ number: UInt16,
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
    mutating func inChannel<R>(_ number: UInt16, _ body: (inout ChannelStateMachine) -> R) -> R? {
        channels.modify(number, body)
    }

    /// The hot path of basic.deliver, in place; nil leaves the frame to the general path (no such
    /// channel, or a raw one).
}
