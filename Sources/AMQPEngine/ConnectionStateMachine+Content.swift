import AMQPWire

/// Content (basic.deliver, get-ok and return with their header and body frames) assembled into
/// messages, and the message objects recycled between deliveries.
extension ConnectionStateMachine {
    mutating func beginDelivery(_ deliver: BasicDeliver, channel number: UInt16) -> ContentOutcome? {
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
    mutating func newMessage(_ kind: InboundMessage.Kind, channel: UInt16) -> InboundMessage {
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
    static let messagePoolLimit = 4096

    /// What a content frame did to its channel's message under assembly.
    enum ContentOutcome {
        case nothing, raw, complete(ContentAssembly), violation(ErrorKind, ReplyCode, String)
    }

    mutating func receiveHeader(_ number: UInt16, _ header: ContentHeader, into out: inout EngineOutput) {
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

    mutating func receiveBody(_ number: UInt16, _ body: Bytes, into out: inout EngineOutput) {
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

    mutating func deliver(_ assembly: ContentAssembly, into out: inout EngineOutput) {
        switch assembly.message.kind {
        case .delivery:
            counters.deliveries += 1
            let message = assembly.message
            if let consume = channels.abandonedConsumer(message.consumerTag, on: message.channel) {
                handBack(message, noAck: consume.noAck, request: consume.request, into: &out)
                return
            }
            out.events.append(.delivery(message))
        case .returned:
            counters.returns += 1
            let message = assembly.message
            if channels.hasMandatoryPublishes(message.channel) {
                let digest = ConfirmTracker.digest(exchange: message.exchange, routingKey: message.routingKey, body: message.body)
                message.publishSequence = inChannel(message.channel) { $0.confirms?.matchReturn(digest: digest) ?? 0 } ?? 0
            }
            out.events.append(.returned(message))
        case .getOk:
            counters.deliveries += 1
            let message = assembly.message
            if assembly.abandoned {
                lateMessage(message, noAck: assembly.noAck, request: assembly.request ?? 0, what: "basic.get on channel \(message.channel) answered after its caller gave up;", into: &out)
            } else if let request = assembly.request {
                out.events.append(.completion(request, channel: message.channel, .success(.message(message))))
            }
        }
    }

    /// A message of an abandoned request (`what` it is, for the log): it must not be lost. With
    /// `noAck` the broker has forgotten it, so it goes out as a late message; else back to the queue.
    mutating func lateMessage(_ message: InboundMessage, noAck: Bool, request: RequestID, what: String, into out: inout EngineOutput) {
        let number = message.channel
        if noAck {
            out.events.append(.log(.warning, "\(what) the no-ack message is handed out as a late event"))
            out.events.append(.lateMessage(message, request: request))
            return
        }
        out.events.append(.log(.info, "\(what) the message goes back to the queue"))
        guard channels.state(of: number) == .open else { return } // a closing channel's unacked messages go back anyway
        let offset = channels[number]?.deliveryTagOffset ?? 0
        send(channel: number, .basicReject(BasicReject(deliveryTag: message.deliveryTag &- offset, requeue: true)), into: &out)
    }

    /// The consume-ok of an abandoned basic.consume: the consumer exists at the broker but nobody
    /// knows it, so it is cancelled and recovery forgets it; until its cancel-ok, its deliveries
    /// are handed back (see `ChannelStateMachine.abandonedConsumers`).
    mutating func cancelAbandonedConsumer(_ tag: Bytes, noAck: Bool, request: RequestID, channel number: UInt16,
                                          into out: inout EngineOutput) {
        topology.consumerCancelled(tag)
        let cancel = BasicCancel(consumerTag: tag, nowait: false)
        let open = channels.state(of: number) == .open
        inChannel(number) { channel in
            channel.abandonedConsumers[tag] = (noAck, request)
            guard open else { return } // closing: the consumer ends with the channel
            var awaiting = PendingRequest(id: 0, awaiting: .basicCancel(cancel))
            awaiting.abandoned = true
            channel.pending.append(awaiting)
        }
        out.events.append(.log(.info, "basic.consume on channel \(number) answered after its caller gave up; consumer \(tag.lossyString) is cancelled"))
        if open { send(channel: number, .basicCancel(cancel), into: &out) }
    }
}
