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
    /// Which channel this is among those that had its number: the id of the request that opened
    /// it. Kept across recoveries; CHANNEL_CLOSED events carry it, so an application that reuses
    /// numbers tells an earlier channel's close from the current one's.
    let generation: RequestID
    var pending: [PendingRequest] = []
    /// Consumers whose basic.consume was abandoned (by consumer tag): cancelled by the engine, and
    /// until the cancel-ok their deliveries go back to the queue, or with no-ack (the broker
    /// forgot them) out as late messages of the consume `request`.
    var abandonedConsumers: [Bytes: (noAck: Bool, request: RequestID)] = [:]
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

    init(number: UInt16, openRequest: RequestID) {
        self.number = number
        self.openRequest = openRequest
        generation = openRequest
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

/// Publisher confirms of one channel: the sequence numbers still awaiting ack or nack, in order.
struct ConfirmTracker {
    var nextSequence: UInt64 = 1
    /// The broker numbers publishes from 1 on each connection; ours continue across recoveries.
    var brokerOffset: UInt64 = 0
    /// Unconfirmed sequences, ascending (they are issued in order); `head` skips confirmed ones.
    private var pending: [UInt64] = []
    private var head = 0
    var nackedSinceWait = false
    /// Mandatory publishes not confirmed or returned yet, oldest first, with the digest of their
    /// exchange, routing key and body (see `matchReturn`).
    private var mandatory: [(sequence: UInt64, digest: UInt64)] = []
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
        mandatory.removeAll()
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

    var hasMandatory: Bool { !mandatory.isEmpty }

    /// Records that publish `sequence` was mandatory (`digest`: see `digest(exchange:routingKey:body:)`).
    mutating func noteMandatory(_ sequence: UInt64, digest: UInt64) {
        mandatory.append((sequence, digest))
    }

    /// The sequence number of the publish a basic.return with `digest` gives back, or 0. A return
    /// names no sequence, but RabbitMQ sends it before the confirm of its publish, so that publish
    /// is still unconfirmed: the oldest mandatory one with the same exchange, routing key and
    /// body (identical publishes are indistinguishable anyway). It is not matched again.
    mutating func matchReturn(digest: UInt64) -> UInt64 {
        guard let index = mandatory.firstIndex(where: { $0.digest == digest }) else { return 0 }
        return mandatory.remove(at: index).sequence
    }

    /// A digest of what identifies a returned publish, 8 bytes at a time (a mandatory publish
    /// in confirm mode pays it once, its return once).
    static func digest(exchange: UnsafeRawBufferPointer, routingKey: UnsafeRawBufferPointer, body: UnsafeRawBufferPointer) -> UInt64 {
        absorb(absorb(absorb(0xcbf2_9ce4_8422_2325, exchange), routingKey), body)
    }

    private static func absorb(_ start: UInt64, _ part: UnsafeRawBufferPointer) -> UInt64 {
        var hash = mix(start, UInt64(part.count))
        var offset = 0
        while offset + 8 <= part.count {
            hash = mix(hash, part.loadUnaligned(fromByteOffset: offset, as: UInt64.self))
            offset += 8
        }
        var tail: UInt64 = 0
        while offset < part.count {
            tail = tail << 8 | UInt64(part[offset])
            offset += 1
        }
        return mix(hash, tail)
    }

    static func digest(exchange: Bytes, routingKey: Bytes, body: Bytes) -> UInt64 {
        exchange.withUnsafeBytes { e in routingKey.withUnsafeBytes { r in body.withUnsafeBytes { b in digest(exchange: e, routingKey: r, body: b) } } }
    }

    private static func mix(_ hash: UInt64, _ word: UInt64) -> UInt64 {
        var h = (hash ^ word) &* 0x9e37_79b9_7f4a_7c15
        h ^= h >> 29
        return h
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
        if !mandatory.isEmpty {
            if multiple {
                let confirmed = mandatory.prefix { $0.sequence <= tag }.count
                mandatory.removeSubrange(0..<confirmed)
            } else if let index = mandatory.firstIndex(where: { $0.sequence == tag }) {
                mandatory.remove(at: index)
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
