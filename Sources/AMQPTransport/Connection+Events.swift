#if canImport(Glibc)
import Glibc
#endif
import AMQPEngine
import AMQPWire
import CShim

/// The event queue's side of a connection: what the I/O thread and commands produced goes to blocking
/// waiters or the queue (`route`), and the application takes it from there (`takeEvents`).
extension Connection {
    /// Moves up to `limit` events out of the queue into `batch` (emptied first, its capacity kept,
    /// so a steady stream of drains allocates nothing), waiting up to `timeoutMs` for the first
    /// one. With `minCount` > 1 and a `lingerNs`, once the first event is there it waits up to
    /// `lingerNs` more (never past the deadline) for `minCount` events, so a consumer takes bigger
    /// batches with fewer wake-ups. False when the connection has ended and every event was taken.
    public func takeEvents(into batch: inout [EngineEvent], limit: Int, timeoutMs: UInt32, minCount: Int = 1,
                           lingerNs: UInt64 = 0) -> Bool {
        batch.emptyKeepingCapacity()
        let deadline = Timeout.deadline(afterMs: timeoutMs, from: monotonicNow())
        var wakeIO = false
        let open: Bool = withCallerLock {
            while events.isEmpty {
                if finalError != nil { return false }
                if timeoutMs == 0 || monotonicNow() >= deadline { return true }
                _ = lock.wait(until: deadline)
            }
            if minCount > 1 && lingerNs > 0 {
                let (lingerEnd, overflow) = monotonicNow().addingReportingOverflow(lingerNs)
                let until = overflow ? deadline : min(lingerEnd, deadline)
                // The connection's end, or a queue at its limit (reading has paused), ends the wait too.
                while events.count < minCount && finalError == nil && events.bytes < eventQueueLimit
                        && monotonicNow() < until {
                    _ = lock.wait(until: until)
                }
            }
            let wasOverLimit = events.bytes >= eventQueueLimit
            events.take(into: &batch, limit: limit)
            if events.isEmpty && eventFDWatched { swiftamqp_shim_eventfd_drain(eventFD) }
            wakeIO = wasOverLimit && events.bytes < eventQueueLimit
            return true
        }
        if wakeIO { swiftamqp_shim_eventfd_signal(wakeFD) }
        return open
    }

    /// Takes back the messages of events the application has been handed (converted to C), for the
    /// engine to fill again instead of allocating; `events` is emptied. The batch's successful
    /// completions are kept until the next one, so that `abandon` can still undo them; a
    /// basic.get's message goes back for reuse then.
    public func recycle(_ events: inout [EngineEvent]) {
        withCallerLock {
            while var drained = drainedCompletions.popLast() {
                var message: InboundMessage?
                if case .message(let kept) = drained.reply { message = kept }
                drained.reply = .done // drop the tuple's reference: `message` must be the only one
                engine.reuse(&message)
            }
            for index in events.indices {
                var message: InboundMessage?
                switch events[index] {
                case .completion(let id, let channel, .success(let reply)):
                    drainedCompletions.append((id, channel, reply))
                    continue
                case .delivery(let m), .returned(let m), .lateMessage(let m, _):
                    message = m
                default:
                    continue
                }
                events[index] = .unblocked // drop the array's reference: `message` must be the only one
                engine.reuse(&message)
            }
        }
        events.emptyKeepingCapacity()
    }

    /// Sends completions to their blocking waiters and everything else to the event queue, and
    /// wakes the waiters. Called with the lock held; true when the I/O thread must be woken (socket
    /// to close).
    func route() -> Bool {
        if routeLeavingWakeUp() { lock.broadcast() }
        return output.closeSocket
    }

    /// `route()` without the wake-up: true when waiters must be woken, which the caller does once
    /// it has released the lock, so that a woken consumer finds the lock free instead of sleeping
    /// on it again at once. Called with the lock held.
    func routeLeavingWakeUp() -> Bool {
        guard !output.events.isEmpty else { return false }
        var signalled = false
        let wasEmpty = events.isEmpty
        for index in output.events.indices {
            // Moved out, not copied: a copy cost a retain and a release of the message per event.
            var event = EngineEvent.unblocked
            swap(&event, &output.events[index])
            if case .completion(let id, _, let result) = event {
                engine.requestCompleted(id)
                switch requests.route(id, result) {
                case .waiter:
                    signalled = true
                    continue
                case .dropped: continue
                case .eventQueue: break
                }
            }
            if case .log(let level, _) = event, level.rawValue > logLevel { continue }
            if case .connectionClosed(let error) = event { finalError = error }
            events.append(consume event)
            signalled = true
        }
        output.events.emptyKeepingCapacity()
        if eventFDWatched && wasEmpty && !events.isEmpty { swiftamqp_shim_eventfd_signal(eventFD) }
        return signalled
    }
}
