import AMQPEngine
import AMQPWire

/// A connection's queued events, oldest first, with their approximate size in bytes (the
/// event_queue_limit counts these). Events are moved out, never copied: the queue must not keep a
/// message alive once the drain has it, or the message could not be reused. Guarded by the
/// connection's lock; the event fd is the connection's business.
struct EventQueue {
    private var events: [EngineEvent] = []
    private var head = 0
    /// The bytes the queued events stand for.
    private(set) var bytes = 0

    var isEmpty: Bool { head == events.count }
    var count: Int { events.count - head }

    mutating func append(_ event: consuming EngineEvent) {
        bytes += Self.size(of: event)
        events.append(event)
    }

    /// Moves up to `limit` (at least 1) events into `batch`.
    mutating func take(into batch: inout [EngineEvent], limit: Int) {
        // `limit` may be as large as Int.max: never add it to anything.
        let end = head + min(events.count - head, max(limit, 1))
        for index in head..<end {
            var event = EngineEvent.unblocked
            swap(&event, &events[index])
            bytes -= Self.size(of: event)
            batch.append(event)
        }
        head = end
        if head == events.count {
            events.emptyKeepingCapacity()
            head = 0
        } else if head > 4096 {
            events.removeFirst(head) // taken slots pile up only while the queue never empties
            head = 0
        }
    }

    /// Takes the queued completion of request `id` out of the queue (its caller abandoned it).
    mutating func removeCompletion(of id: RequestID) -> (channel: UInt16, result: Result<Reply, AMQPError>)? {
        for index in head..<events.count {
            guard case .completion(id, let channel, let result) = events[index] else { continue }
            bytes -= Self.size(of: events[index])
            events.remove(at: index)
            return (channel, result)
        }
        return nil
    }

    /// Takes the queued deliveries to consumer `tag` on `channel` out of the queue, in order (the
    /// consumer's basic.consume was abandoned after its deliveries began).
    mutating func removeDeliveries(channel: UInt16, consumerTag tag: Bytes) -> [InboundMessage] {
        var taken: [InboundMessage] = []
        var kept = head
        for index in head..<events.count {
            if case .delivery(let message) = events[index], message.channel == channel, message.consumerTag == tag {
                bytes -= Self.size(of: events[index])
                taken.append(message)
                continue
            }
            events.swapAt(kept, index)
            kept += 1
        }
        events.removeSubrange(kept...)
        return taken
    }

    /// What an event counts against the limit: a message its body and a fixed overhead.
    static func size(of event: EngineEvent) -> Int {
        switch event {
        case .delivery(let message), .returned(let message), .lateMessage(let message, _): return 256 + message.body.count
        case .completion(_, _, .success(.message(let message))): return 256 + message.body.count
        default: return 128
        }
    }
}

extension Array {
    /// `removeAll(keepingCapacity: true)`, without its general replace-subrange path for a short
    /// array: that path costs about 160 instructions even for one element, and a round trip
    /// empties an event array several times (its routing, the drain, the batch's recycling).
    @inline(__always)
    mutating func emptyKeepingCapacity() {
        if count <= 8 {
            while !isEmpty { removeLast() }
        } else {
            removeAll(keepingCapacity: true)
        }
    }
}
