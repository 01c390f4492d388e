import AMQPWire

/// Requests whose caller gave up (a blocking call's timeout, swamqp_request_abandon, a deadline
/// set with swamqp_request_set_timeout): their late replies undone, so nothing is lost and no
/// consumer runs that nobody knows.
extension ConnectionStateMachine {
    /// The caller gave up waiting for `request` (a blocking call's timeout, swamqp_request_abandon
    /// or the request's deadline). Its reply, when it comes, completes nobody and is undone where
    /// it changed something: a confirm wait is forgotten (it must not take the next wait's news),
    /// a channel that opens is closed again, a consumer that starts is cancelled (its deliveries
    /// meanwhile go back to the queue, or out as `lateMessage` with no-ack), and a basic.get's
    /// message goes back to the queue (basic.reject with requeue) or, with no-ack, out as
    /// `lateMessage`; a connection.close still closes the connection, an update-secret still takes
    /// effect. Returns the channel the request was made on, or nil when no request with that id
    /// awaits its reply (then nothing changed): the connection's own open is not abandoned here.
    @discardableResult
    public mutating func abandon(_ request: RequestID) -> UInt16? {
        if closeRequest == request {
            closeRequest = nil // the connection still closes: on close-ok, or at the close's deadline
            return 0
        }
        if updateSecretRequests.contains(request), abandonedSecretUpdates.insert(request).inserted { return 0 }
        for number in channels.numbers {
            let found = inChannel(number) { channel -> Bool in
                if channel.confirms?.waiters.contains(where: { $0.id == request }) == true {
                    channel.confirms?.waiters.removeAll { $0.id == request }
                    return true
                }
                if channel.openRequest == request {
                    channel.openRequest = nil
                    channel.openAbandoned = true
                    return true
                }
                if channel.closeRequest == request {
                    channel.closeRequest = nil // the channel still closes, on close-ok
                    return true
                }
                if let index = channel.pending.firstIndex(where: { $0.id == request && !$0.abandoned }) {
                    channel.pending[index].abandoned = true
                    return true
                }
                if channel.assembly?.request == request, channel.assembly?.abandoned == false {
                    channel.assembly?.abandoned = true
                    return true
                }
                return false
            }
            if found == true { return channel(ofOpenRequest: number, request) }
        }
        return nil
    }

    /// The channel a request found on channel `number` was made on: 0 for a channel.open (the
    /// connection's request; its completion names no channel yet).
    private func channel(ofOpenRequest number: UInt16, _ request: RequestID) -> UInt16 {
        channels[number]?.generation == request && channels[number]?.state == .opening ? 0 : number
    }

    /// Undoes the successful completion `result` of `request`, which was queued but never taken:
    /// its caller abandoned it then (see `abandon`).
    public mutating func undoCompletion(_ reply: Reply, of request: RequestID, channel number: UInt16, into out: inout EngineOutput) {
        switch reply {
        case .channelOpened(let opened):
            guard channels.state(of: opened) == .open else { return }
            closeUnknownChannel(opened, into: &out)
        case .consumerStarted(let tag, let noAck):
            cancelAbandonedConsumer(tag, noAck: noAck, request: request, channel: number, into: &out)
        case .message(let message):
            lateMessage(message, noAck: message.noAck, request: request,
                        what: "basic.get on channel \(message.channel) abandoned after its reply came;", into: &out)
        case .done, .queueDeclared, .messageCount, .consumerTag, .empty:
            return // nothing to give back
        }
    }

    /// An open channel whose opener gave up: nobody holds its number, so it is closed again rather
    /// than leaked (no request waits for the close-ok).
    mutating func closeUnknownChannel(_ number: UInt16, into out: inout EngineOutput) {
        channels[number]?.state = .closing
        send(channel: number, .channelClose(ChannelClose(replyCode: 200, replyText: "Goodbye", classId: 0, methodId: 0)), into: &out)
    }

    /// A delivery of abandoned consume `request` that was queued for the application but never
    /// taken: back to the queue, or with `noAck` out as a late message.
    public mutating func handBack(_ message: InboundMessage, noAck: Bool, request: RequestID, into out: inout EngineOutput) {
        lateMessage(message, noAck: noAck, request: request,
                    what: "a delivery on channel \(message.channel) to consumer \(message.consumerTag.lossyString), whose basic.consume was abandoned:",
                    into: &out)
    }

    /// Abandons `request` unless it completed by `deadline` (monotonic ns; `UInt64.max`: never),
    /// replacing an earlier deadline; `timeoutMs` is the limit it was given, for the error. Cheap
    /// per request: a dictionary entry, dropped when the request completes (`requestCompleted`).
    public mutating func setDeadline(_ request: RequestID, at deadline: UInt64, timeoutMs: UInt32, into out: inout EngineOutput) {
        guard deadline != .max else {
            requestDeadlines[request] = nil
            return
        }
        requestDeadlines[request] = RequestDeadline(at: deadline, timeoutMs: timeoutMs)
        guard earliestRequestDeadline.map({ deadline < $0 }) ?? true else { return }
        earliestRequestDeadline = deadline
        // Only an earlier timer makes the I/O thread recompute its wait (a wake-up): with one
        // timeout for every request, as a binding sets, that is the first request's only.
        out.timerChanged = true
    }

    /// `request`'s completion was handed on: its deadline, if any, is void.
    public mutating func requestCompleted(_ request: RequestID) {
        if !requestDeadlines.isEmpty { requestDeadlines[request] = nil }
    }

    /// Fails the requests whose deadline passed by `now` with a timeout (they are abandoned). The
    /// requests are scanned only when the earliest deadline recorded passes.
    mutating func expireRequests(now: UInt64, into out: inout EngineOutput) {
        guard let earliest = earliestRequestDeadline, now >= earliest else { return }
        let due = requestDeadlines.filter { $0.value.at <= now }.sorted { $0.value.at < $1.value.at }
        for (request, _) in due { requestDeadlines[request] = nil }
        earliestRequestDeadline = requestDeadlines.values.map(\.at).min()
        for (request, entry) in due {
            guard let channel = abandon(request) else { continue } // completed meanwhile
            out.events.append(.completion(request, channel: channel,
                                          .failure(AMQPError(.timeout, "no reply within \(entry.timeoutMs) ms", channel: channel))))
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
