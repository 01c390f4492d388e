#if canImport(Glibc)
import Glibc
#endif
import AMQPEngine
import AMQPWire

/// The typed commands a connection offers its callers: requests with a completion, and the
/// commands without a reply (publish, acknowledgements, raw frames). Each runs the engine under
/// the lock and writes or queues what it produced; none takes a closure over the engine.
extension Connection {
    /// swamqp_connection_free closes an open connection first, waiting at most this long for
    /// close-ok (then for the engine's own deadline plus a margin), before it stops the I/O thread.
    public static let closeOnFreeTimeoutMs: UInt32 = 2000

    /// Starts `command` as a new request. `blocking`: a waiter is registered, to be waited for with
    /// `wait(for:timeoutMs:)`; else the completion goes to the event queue. Fails, with nothing
    /// sent, when the command breaks a protocol rule. `channel` is the number `openChannel` took.
    public func request(_ command: EngineCommand, blocking: Bool) -> Result<(id: RequestID, channel: UInt16?), AMQPError> {
        if let rejection = command.rejection { return .failure(rejection) }
        var opened: UInt16?
        let id = perform(blocking: blocking) { id, engine, out in
            opened = engine.run(command, request: id, now: monotonicNow(), into: &out)
        }
        return .success((id, opened))
    }

    /// The caller of `_async` request `id` stops waiting for it: no completion comes for it (one
    /// queued but not drained yet is taken back; one in the batch the application holds is undone
    /// all the same), and a late reply is undone (see `ConnectionStateMachine.abandon`). False,
    /// with nothing changed, when no request with that id awaits completion: never issued,
    /// blocking (its caller's own), or completed in an earlier batch.
    public func abandon(_ id: RequestID) -> Bool {
        withEngine { engine, out in
            guard requests.wasIssued(id), !requests.isWaited(id) else { return false }
            if engine.abandon(id) != nil { return true }
            let completion: (channel: UInt16, reply: Reply?)
            if let queued = events.removeCompletion(of: id) {
                completion = (queued.channel, try? queued.result.get())
            } else if let index = drainedCompletions.firstIndex(where: { $0.id == id }) {
                let drained = drainedCompletions.remove(at: index)
                completion = (drained.channel, drained.reply)
            } else {
                return false
            }
            guard let reply = completion.reply else { return true } // a failure leaves nothing to undo
            engine.undoCompletion(reply, of: id, channel: completion.channel, into: &out)
            if case .consumerStarted(let tag, let noAck) = reply {
                // Deliveries queued behind the consume-ok, not drained yet, go back too.
                for message in events.removeDeliveries(channel: completion.channel, consumerTag: tag) {
                    engine.handBack(message, noAck: noAck, request: id, into: &out)
                }
            }
            return true
        }
    }

    /// Gives `_async` request `id` a deadline `timeoutMs` from now, replacing an earlier one
    /// (`Timeout.forever`: none): if it has not completed by then, it completes with a timeout
    /// and is abandoned. False when no request with that id was ever issued; a request that
    /// completed already needs no deadline (true).
    public func setTimeout(_ id: RequestID, timeoutMs: UInt32) -> Bool {
        withEngine { engine, out in
            guard requests.wasIssued(id) else { return false }
            engine.setDeadline(id, at: Timeout.deadline(afterMs: timeoutMs, from: monotonicNow()), timeoutMs: timeoutMs, into: &out)
            return true
        }
    }

    /// A request id for the connection's own open, which the I/O thread completes.
    public func newOpenRequest() -> RequestID {
        lock.withLock { requests.allocate(blocking: false) }
    }

    /// Closes an open connection before it is freed (see `closeOnFreeTimeoutMs`).
    public func closeBeforeFree() {
        guard isOpen, case .success(let started) = request(.closeConnection(timeoutMs: Self.closeOnFreeTimeoutMs), blocking: true)
        else { return }
        _ = wait(for: started.id, timeoutMs: Self.closeOnFreeTimeoutMs + 500)
    }

    /// basic.publish of `body` with `properties` (waits for room up to `timeoutMs`, see
    /// `beginPublish`); the publish's confirm sequence number, 0 outside confirm mode.
    public func publish(exchange: UnsafeRawBufferPointer, routingKey: UnsafeRawBufferPointer, mandatory: Bool, immediate: Bool,
                        properties: borrowing BasicProperties, body: UnsafeRawBufferPointer, channel: UInt16,
                        timeoutMs: UInt32) -> Result<UInt64, AMQPError> {
        if let error = beginPublish(channel: channel, timeoutMs: timeoutMs) { return .failure(error) }
        let hadOutbound = output.outbound.count > 0
        let result = engine.publish(exchange: exchange, routingKey: routingKey, mandatory: mandatory, immediate: immediate,
                                    properties: properties, body: body, channel: channel, into: &output)
        finishPublish(result, hadOutbound: hadOutbound)
        return result
    }

    /// basic.ack, nack or reject of a delivery tag the application was handed.
    public func acknowledge(_ kind: ConnectionStateMachine.Acknowledgement, deliveryTag: UInt64, multiple: Bool,
                            channel: UInt16) -> AMQPError? {
        withEngine { engine, out in engine.acknowledge(kind, deliveryTag: deliveryTag, multiple: multiple, channel: channel, into: &out) }
    }

    /// Puts a channel in raw mode (every inbound frame an event) or back.
    public func setRaw(_ channel: UInt16, _ raw: Bool) -> AMQPError? {
        withEngine { engine, _ in engine.setRaw(channel, raw) }
    }

    /// A method frame on a raw channel (or channel.close/flow-ok on any open channel).
    public func sendRaw(_ method: Method, channel: UInt16) -> AMQPError? {
        withEngine { engine, out in engine.sendRaw(method, channel: channel, into: &out) }
    }

    /// A content method with its header and body frames on a raw channel.
    public func sendRawContent(_ method: Method, properties: BasicProperties, body: UnsafeRawBufferPointer,
                               channel: UInt16) -> AMQPError? {
        withEngine { engine, out in engine.sendRawContent(method, properties: properties, body: body, channel: channel, into: &out) }
    }
}
