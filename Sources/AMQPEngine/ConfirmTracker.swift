import AMQPWire

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
