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
    /// basic.get with no-ack: a late reply's message cannot go back to the queue.
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
        case .basicConsume(let consume): consumerTag = consume.consumerTag
        case .basicCancel(let cancel): consumerTag = cancel.consumerTag
        default: break
        }
    }
}

/// A message whose method arrived and whose header and body frames are being collected.
struct ContentAssembly {
    var message: InboundMessage
    /// The basic.get request this message answers, if any.
    var request: RequestID?
    /// That request's caller gave up waiting; `noAck` says whether the broker still holds the
    /// message for us (it does without no-ack, so it can be handed back).
    var abandoned = false
    var noAck = false
    /// The header's body size, checked to fit `Int` and max_message_size.
    var bodySize = 0
    var headerSeen = false
    var storage: ByteStorage?
    var received = 0
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
    var pending: [PendingRequest] = []
    var assembly: ContentAssembly?
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

    init(number: UInt16, openRequest: RequestID?) {
        self.number = number
        self.openRequest = openRequest
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
        for id in [openRequest, closeRequest].compactMap({ $0 }) + pending.map(\.id) {
            out.events.append(.completion(id, channel: number, .failure(error)))
        }
        if let request = assembly?.request {
            out.events.append(.completion(request, channel: number, .failure(error)))
        }
        openRequest = nil
        closeRequest = nil
        pending.removeAll()
        assembly = nil
    }
}

/// Publisher confirms of one channel: the sequence numbers still awaiting ack or nack, in order.
struct ConfirmTracker {
    var nextSequence: UInt64 = 1
    /// The broker numbers publishes from 1 on each connection; ours continue across recoveries.
    var brokerOffset: UInt64 = 0
    /// Unconfirmed sequences, ascending (they are issued in order); `head` skips confirmed ones.
    private var pending: [UInt64] = []
    private var head = 0
    var nackedSinceWait = false
    /// Waits for confirms of every sequence up to `upTo` (the publishes made before the wait).
    var waiters: [(id: RequestID, upTo: UInt64)] = []

    var unconfirmedCount: Int { pending.count - head }
    var lowestUnconfirmed: UInt64? { unconfirmedCount > 0 ? pending[head] : nil }

    /// True when every sequence up to `upTo` is confirmed.
    func settled(upTo: UInt64) -> Bool {
        guard let lowest = lowestUnconfirmed else { return true }
        return lowest > upTo
    }
    var highestUnconfirmed: UInt64? { unconfirmedCount > 0 ? pending.last : nil }

    /// After a connection loss (the unconfirmed were failed): the next broker sequence 1 is ours `nextSequence`.
    mutating func resetAfterLoss() {
        pending.removeAll()
        head = 0
        brokerOffset = nextSequence - 1
        nackedSinceWait = false
    }

    mutating func issue() -> UInt64 {
        let sequence = nextSequence
        nextSequence += 1
        pending.append(sequence)
        return sequence
    }

    /// Completes the waits whose publishes are all confirmed now (NACKED when a nack came since
    /// the last completed wait).
    mutating func completeSettledWaiters(channel number: UInt16, into out: inout EngineOutput) {
        guard !waiters.isEmpty, waiters.contains(where: { settled(upTo: $0.upTo) }) else { return }
        let result: Result<Reply, AMQPError> = nackedSinceWait
            ? .failure(AMQPError(.nacked, "the broker nacked a publish on channel \(number)", channel: number)) : .success(.done)
        for waiter in waiters where settled(upTo: waiter.upTo) { out.events.append(.completion(waiter.id, channel: number, result)) }
        let tracker = self
        waiters.removeAll { tracker.settled(upTo: $0.upTo) }
        nackedSinceWait = false
    }

    /// Marks `tag` (or with `multiple` every sequence up to it) confirmed; returns how many it covered.
    mutating func confirm(_ tag: UInt64, multiple: Bool) -> Int {
        let before = unconfirmedCount
        if multiple {
            var low = head, high = pending.count
            while low < high {
                let mid = (low + high) / 2
                if pending[mid] <= tag { low = mid + 1 } else { high = mid }
            }
            head = low
        } else {
            var low = head, high = pending.count
            while low < high {
                let mid = (low + high) / 2
                if pending[mid] < tag { low = mid + 1 } else { high = mid }
            }
            if low < pending.count && pending[low] == tag {
                if low == head { head += 1 } else { pending.remove(at: low) }
            }
        }
        if head == pending.count {
            pending.removeAll(keepingCapacity: true)
            head = 0
        } else if head > 4096 && head * 2 > pending.count {
            pending.removeFirst(head)
            head = 0
        }
        return before - unconfirmedCount
    }
}
