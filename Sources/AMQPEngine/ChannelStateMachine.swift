import AMQPWire

/// A synchronous request sent on a channel and waiting for one of the `replies` of its class.
struct PendingRequest {
    var id: RequestID
    var classID: UInt16
    var replies: [UInt16]
    /// The request as sent, so its success can be recorded for recovery.
    var method: Method?
    /// Sent by recovery itself: the reply continues recovery instead of completing anything.
    var isRecoveryStep = false
    /// The blocking caller gave up waiting (timeout): the reply completes nobody.
    var abandoned = false
    /// basic.get or basic.consume with no-ack: a late reply's messages cannot go back to the queue.
    var noAck = false
    /// Set for basic.consume and basic.cancel (empty: the broker names the consumer). RabbitMQ
    /// sends their replies from the queue's process, not the channel's, so the reply to a request
    /// pipelined right behind one can arrive first; the tag tells which of them a reply answers.
    var consumerTag: Bytes?

    /// A request waiting for the reply to `method` (sent as `sent`, kept for recovery, or nil).
    init(id: RequestID, awaiting method: Method, sent: Method? = nil, isRecoveryStep: Bool = false) {
        self.id = id
        classID = method.classID
        replies = ChannelStateMachine.replies(to: method)
        self.method = sent
        self.isRecoveryStep = isRecoveryStep
        switch method {
        case .basicGet(let get): noAck = get.noAck
        case .basicConsume(let consume):
            consumerTag = consume.consumerTag
            noAck = consume.noAck
        case .basicCancel(let cancel): consumerTag = cancel.consumerTag
        default: break
        }
    }
}

/// One channel's protocol state: opening, open, closing; its queue of requests awaiting replies in
/// order; and the message being assembled from content frames.
struct ChannelStateMachine {
    enum State { case opening, open, closing }

    var state: State = .opening
    var openRequest: RequestID?
    /// The blocking channel_open gave up waiting: nobody knows this channel, so it is closed as
    /// soon as it opens.
    var openAbandoned = false
    var closeRequest: RequestID?
    /// Which channel this is among those that had its number: the id of the request that opened
    /// it. Kept across recoveries; CHANNEL_CLOSED events carry it, so an application that reuses
    /// numbers tells an earlier channel's close from the current one's.
    let generation: RequestID
    var pending: [PendingRequest] = []
    /// Consumers whose basic.consume was abandoned (by consumer tag): cancelled by the engine, and
    /// until the cancel-ok their deliveries go back to the queue, or with no-ack (the broker
    /// forgot them) out as late messages of the consume `request`.
    var abandonedConsumers: [Bytes: (noAck: Bool, request: RequestID)] = [:]
    /// The message whose content frames are being collected.
    var assembly: ContentAssembler?
    /// False while the broker has stopped this channel's publishing with channel.flow.
    var flowActive = true
    /// In raw mode inbound frames go to the application uninterpreted.
    var raw = false
    var confirms: ConfirmTracker?
    /// Settings to restore after a recovery: the last qos per `global` flag, and tx mode.
    var qos: [Bool: BasicQos] = [:]
    var transactional = false
    /// Delivery tags the application saw before the last recovery end at `deliveryTagOffset`; the
    /// broker's tags on the new connection are shifted past it so tags stay monotonic.
    var deliveryTagOffset: UInt64 = 0
    var highestDeliveryTag: UInt64 = 0

    let number: UInt16

    init(number: UInt16, openRequest: RequestID) {
        self.number = number
        self.openRequest = openRequest
        generation = openRequest
    }

    /// What a method on this channel asks of the connection, which owns the socket, the message
    /// pool, recovery and the topology records. Indirect: its cases' payloads differ in size by
    /// hundreds of bytes, and with them inline Valgrind saw the switch over a small case read
    /// bytes only a large case sets (the tag shares storage with payload bits). A box per method is
    /// cheap here: deliveries, acks and nacks take the in-place paths and never build an Action.
    indirect enum Action {
        /// Nothing more to do.
        case none
        /// The method is not allowed now: a protocol violation.
        case unexpected
        /// channel.open-ok: complete `request` (nil: recovery reopened the channel); `abandoned`:
        /// its caller gave up, so nobody knows the channel and it is to be closed again.
        case opened(request: RequestID?, abandoned: Bool)
        /// The broker closed the channel: answer close-ok, fail what waits, forget the channel.
        case closedByBroker(AMQPError)
        /// Our channel.close is confirmed: complete `request`, fail what waits, forget the channel.
        case closeConfirmed(request: RequestID?)
        /// channel.flow (recorded here): answer flow-ok.
        case flow(active: Bool)
        /// The broker cancelled a consumer: answer cancel-ok unless `nowait`.
        case consumerCancelled(tag: Bytes, nowait: Bool)
        /// A returned message begins: its header and body follow.
        case returnBegins(BasicReturn)
        /// The message of basic.get `request` begins (the request left the queue of waiting ones).
        case getOkBegins(BasicGetOk, request: PendingRequest)
        /// A synchronous reply that completes `request` (it left the queue of waiting ones).
        case replied(PendingRequest, Reply)
    }

    /// A method from the broker on this channel (not basic.deliver, ack or nack, which the
    /// connection takes on its in-place paths, and not on a raw channel).
    mutating func receive(_ method: Method) -> Action {
        if state == .closing {
            // Between our channel.close and its close-ok other methods are discarded, as AMQP
            // asks; content (deliveries, returns) and confirms still reach the application: a
            // no-ack delivery discarded here would be lost, the broker counts it delivered.
            switch method {
            case .channelCloseOk, .channelClose, .basicReturn: break
            default: return .none
            }
        }
        switch method {
        case .channelOpenOk:
            guard state == .opening else { return .unexpected }
            state = .open
            defer { openRequest = nil; openAbandoned = false }
            return .opened(request: openRequest, abandoned: openAbandoned)
        case .channelClose(let close):
            return .closedByBroker(AMQPError(brokerClose: .channelClosed, replyCode: close.replyCode, replyText: close.replyText,
                                             classID: close.classId, methodID: close.methodId, channel: number))
        case .channelCloseOk:
            guard state == .closing else { return .unexpected }
            defer { closeRequest = nil }
            return .closeConfirmed(request: closeRequest)
        case .channelFlow(let flow):
            flowActive = flow.active
            return .flow(active: flow.active)
        case .basicReturn(let returned):
            return .returnBegins(returned)
        case .basicGetOk(let getOk):
            guard let index = pendingIndex(answering: BasicGet.classID, BasicGetOk.methodID) else { return .unexpected }
            return .getOkBegins(getOk, request: pending.remove(at: index))
        case .basicCancel(let cancel):
            return .consumerCancelled(tag: cancel.consumerTag, nowait: cancel.nowait)
        case .basicDeliver, .basicAck, .basicNack:
            return .none // the connection's in-place paths took them
        default:
            guard let index = pendingIndex(answering: method.classID, method.methodID, consumerTag: Self.consumerTag(of: method))
            else { return .unexpected }
            let head = pending.remove(at: index)
            if case .basicCancelOk(let ok) = method, abandonedConsumers.removeValue(forKey: ok.consumerTag) != nil {
                return .none // the cancel of an abandoned consume (see abandonedConsumers)
            }
            return .replied(head, Self.reply(for: method, noAck: head.noAck))
        }
    }

    /// Whether a step of recovery waits on this channel (it is reopening, or a recovery request
    /// awaits its reply), so that a close of it fails that step.
    var awaitsRecoveryStep: Bool { state == .opening || pending.contains { $0.isRecoveryStep } }

    /// The consumer tag a consume-ok or cancel-ok carries (see `pendingIndex`).
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

    // MARK: - Content

    /// What a content frame did to the channel's message under assembly.
    enum ContentOutcome {
        case incomplete
        /// A raw channel: the frame goes to the application as it is.
        case raw
        case complete(ContentAssembler)
        case violation(ErrorKind, ReplyCode, String)
    }

    /// A message begins (its method arrived); false when another one is still under assembly.
    mutating func begin(_ assembler: ContentAssembler) -> Bool {
        guard assembly == nil else { return false }
        assembly = assembler
        return true
    }

    mutating func receiveHeader(_ header: ContentHeader, maxSize: UInt64) -> ContentOutcome {
        if raw { return .raw }
        guard let step = assembly?.header(header, maxSize: maxSize, channel: number) else {
            return .violation(.unexpectedFrame, .unexpectedFrame, "content header without a method on channel \(number)")
        }
        return finish(step)
    }

    mutating func receiveBody(_ body: Bytes) -> ContentOutcome {
        if raw { return .raw }
        guard let step = assembly?.body(body, channel: number) else {
            return .violation(.unexpectedFrame, .unexpectedFrame, "body frame without a content header on channel \(number)")
        }
        return finish(step)
    }

    private mutating func finish(_ step: ContentAssembler.Step) -> ContentOutcome {
        switch step {
        case .incomplete: return .incomplete
        case .violation(let kind, let code, let text): return .violation(kind, code, text)
        case .complete:
            var done: ContentAssembler?
            swap(&done, &assembly)
            return done.map { .complete($0) } ?? .incomplete
        }
    }

    /// Which waiting request the reply `classID`/`methodID` answers: the first that accepts it,
    /// looking past consume and cancel requests only (their replies may come late, see
    /// `PendingRequest.consumerTag`). A consume-ok or cancel-ok (`consumerTag` given) goes to the
    /// request that named its tag, else to the first one that let the broker name it.
    func pendingIndex(answering classID: UInt16, _ methodID: UInt16, consumerTag: Bytes? = nil) -> Int? {
        var brokerNamed: Int?
        var index = 0
        while index < pending.count {
            let entry = pending[index]
            if entry.classID == classID && entry.replies.contains(methodID) {
                guard let consumerTag else { return index }
                if entry.consumerTag == consumerTag { return index }
                if brokerNamed == nil && entry.consumerTag?.isEmpty == true { brokerNamed = index }
            }
            if entry.consumerTag == nil { break } // nothing overtakes this request's reply
            index += 1
        }
        return brokerNamed
    }

    /// The replies a synchronous request is answered with (same class).
    static func replies(to method: Method) -> [UInt16] {
        switch method {
        case .basicGet: return [BasicGetOk.methodID, BasicGetEmpty.methodID]
        case .exchangeUnbind: return [ExchangeUnbindOk.methodID]
        default: return [method.methodID + 1]
        }
    }

    /// Every request still waiting, failed with `error`, as completion events; unconfirmed
    /// publishes are failed with one event.
    mutating func failAll(_ error: AMQPError, into out: inout EngineOutput) {
        if var confirms {
            if let last = confirms.highestUnconfirmed {
                out.events.append(.confirmsFailed(channel: number, upTo: last, error))
            }
            for waiter in confirms.waiters { out.events.append(.completion(waiter.id, channel: number, .failure(error))) }
            confirms.waiters.removeAll()
            self.confirms = confirms
        }
        // Abandoned requests complete nobody: their caller was told already (or chose not to be).
        for id in [openRequest, closeRequest].compactMap({ $0 }) + pending.filter({ !$0.abandoned }).map(\.id) {
            out.events.append(.completion(id, channel: number, .failure(error)))
        }
        if let request = assembly?.request, assembly?.abandoned == false {
            out.events.append(.completion(request, channel: number, .failure(error)))
        }
        openRequest = nil
        closeRequest = nil
        pending.removeAll()
        assembly = nil
    }
}
