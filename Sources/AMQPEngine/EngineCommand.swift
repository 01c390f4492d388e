import AMQPWire

/// A request of the application to the engine, answered by a completion carrying the request's id.
/// `ConnectionStateMachine.run` carries it out; the transport checks `rejection` first, so a
/// command that breaks a protocol rule fails before anything is sent.
public enum EngineCommand: Sendable {
    case openChannel
    case closeChannel(UInt16)
    /// connection.close; without close-ok the socket is closed after `timeoutMs`.
    case closeConnection(timeoutMs: UInt32)
    /// A synchronous method on a channel (declare, bind, consume, qos, tx, confirm.select, flow...).
    case call(Method, channel: UInt16, noWait: Bool)
    /// Completes once every publish so far on the channel is confirmed.
    case waitForConfirms(channel: UInt16)
    case updateSecret(Bytes, reason: Bytes)

    /// The rule the command breaks, if any (then nothing may be sent).
    public var rejection: AMQPError? {
        if case .call(.basicConsume(let consume), let channel, _) = self, consume.nowait, consume.consumerTag.isEmpty {
            return AMQPError(.invalidArgument, "basic.consume with NOWAIT needs a consumer tag (the broker's reply would carry it)",
                             channel: channel)
        }
        return nil
    }
}

extension ConnectionStateMachine {
    /// How long connection.close waits for close-ok when the application gives no bound (the
    /// `_async` close): then the socket is closed regardless.
    public static let defaultCloseTimeoutMs: UInt32 = 5000

    /// Carries out `command` as request `request`; for `openChannel`, returns the channel number
    /// taken (a failure completes the request instead).
    @discardableResult
    public mutating func run(_ command: EngineCommand, request: RequestID, now: UInt64, into out: inout EngineOutput) -> UInt16? {
        switch command {
        case .openChannel:
            switch openChannel(request: request, into: &out) {
            case .success(let number): return number
            case .failure(let failure): out.events.append(.completion(request, channel: 0, .failure(failure)))
            }
        case .closeChannel(let number): closeChannel(number, request: request, into: &out)
        case .closeConnection(let timeoutMs): close(request: request, timeoutMs: timeoutMs, now: now, into: &out)
        case .call(let method, let channel, let noWait): call(method, channel: channel, noWait: noWait, request: request, into: &out)
        case .waitForConfirms(let channel): waitForConfirms(channel: channel, request: request, into: &out)
        case .updateSecret(let secret, let reason): updateSecret(secret, reason: reason, request: request, into: &out)
        }
        return nil
    }
}
