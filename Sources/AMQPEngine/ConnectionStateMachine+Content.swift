import AMQPWire

/// Content (basic.deliver, get-ok and return with their header and body frames) assembled into
/// messages, and the message objects recycled between deliveries.
extension ConnectionStateMachine {
    /// basic.deliver from the general path (`receive(_:now:into:)`): a delivery begins. Nil leaves
    /// the frame to that path (no such channel, or a raw one).
    mutating func beginDelivery(_ deliver: BasicDeliver, channel number: UInt16) -> ChannelStateMachine.ContentOutcome? {
        guard channels.isRaw(number) == false else { return nil }
        let message = newMessage(.delivery, channel: number)
        message.consumerTag = deliver.consumerTag
        message.redelivered = deliver.redelivered
        message.exchange = deliver.exchange
        message.routingKey = deliver.routingKey
        return beginDelivery(message, brokerTag: deliver.deliveryTag, channel: number)
    }

    /// A delivery begins on open, non-raw channel `number`: `message` holds basic.deliver's fields
    /// but the delivery tag, which is the broker's `brokerTag` shifted past the tags of earlier
    /// connections (recovery). Its content header and body come next.
    mutating func beginDelivery(_ message: InboundMessage, brokerTag: UInt64, channel number: UInt16) -> ChannelStateMachine.ContentOutcome {
        let began = inChannel(number) { channel -> Bool in
            message.deliveryTag = brokerTag &+ channel.deliveryTagOffset
            channel.highestDeliveryTag = max(channel.highestDeliveryTag, message.deliveryTag)
            return channel.begin(ContentAssembler(message: message))
        }
        if began == true { return .incomplete }
        return .violation(.unexpectedFrame, .unexpectedFrame, "a new message began on channel \(number) before the last one ended")
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

    mutating func receiveHeader(_ number: UInt16, _ header: ContentHeader, into out: inout EngineOutput) {
        guard state == .open || state == .closing else { return }
        let maxSize = configuration.maxMessageSize
        switch inChannel(number, { $0.receiveHeader(header, maxSize: maxSize) }) ?? .incomplete {
        case .incomplete: return
        case .raw:
            var writer = ByteWriter()
            header.encode(into: &writer) // as it came: raw channels get the properties uninterpreted
            out.events.append(.rawFrame(channel: number, RawFrame(kind: .header, payload: Bytes(writer.buffer))))
        case .complete(let assembler): deliver(assembler, into: &out)
        case .violation(let kind, let code, let text): violation(kind, code: code, text, into: &out)
        }
    }

    mutating func receiveBody(_ number: UInt16, _ body: Bytes, into out: inout EngineOutput) {
        guard state == .open || state == .closing else { return }
        switch inChannel(number, { $0.receiveBody(body) }) ?? .incomplete {
        case .incomplete: return
        case .raw: out.events.append(.rawFrame(channel: number, RawFrame(kind: .body, payload: body)))
        case .complete(let assembler): deliver(assembler, into: &out)
        case .violation(let kind, let code, let text): violation(kind, code: code, text, into: &out)
        }
    }

    /// A message is whole: it goes to the application, or back where an abandoned request leaves it.
    mutating func deliver(_ assembly: ContentAssembler, into out: inout EngineOutput) {
        switch assembly.message.kind {
        case .delivery:
            counters.deliveries += 1
            if let consume = channels.abandonedConsumer(of: assembly.message) {
                handBack(assembly.message, noAck: consume.noAck, request: consume.request, into: &out)
                return
            }
            out.events.append(.delivery(assembly.message))
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
                lateMessage(message, noAck: message.noAck, request: assembly.request ?? 0, what: "basic.get on channel \(message.channel) answered after its caller gave up;", into: &out)
            } else if let request = assembly.request {
                out.events.append(.completion(request, channel: message.channel, .success(.message(message))))
            }
        }
    }
}
