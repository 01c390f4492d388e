/// The heartbeat of an open connection (AMQP 0-9-1 section 4.2.7): a heartbeat frame from us when
/// we have sent nothing for half the negotiated interval, and the peer counted dead after two
/// intervals without a byte from it. Times are monotonic nanoseconds; the connection tells it
/// about traffic and asks it what to do at its deadline.
struct Heartbeat: Equatable {
    enum Action: Equatable {
        case none
        /// Send a heartbeat frame now (counted as sent).
        case send
        /// Nothing arrived for this many nanoseconds: the peer is gone.
        case peerSilent(forNs: UInt64)
    }

    /// The negotiated interval; 0 is off.
    private(set) var intervalNs: UInt64 = 0
    private(set) var lastInbound: UInt64 = 0
    private(set) var lastOutbound: UInt64 = 0

    /// A new connection: traffic counts from `now`.
    mutating func reset(now: UInt64) {
        lastInbound = now
        lastOutbound = now
    }

    /// The interval connection.tune-ok settled (0: no heartbeats).
    mutating func start(seconds: UInt16) { intervalNs = UInt64(seconds) * 1_000_000_000 }

    /// Bytes arrived (a partial frame counts): the peer is alive.
    mutating func noteInbound(now: UInt64) { lastInbound = now }

    /// Bytes left for the peer: no heartbeat is needed for a while.
    mutating func noteOutbound(now: UInt64) { lastOutbound = now }

    /// When `tick` must run next, or nil while heartbeats are off.
    var nextDeadline: UInt64? {
        guard intervalNs > 0 else { return nil }
        return min(lastOutbound &+ intervalNs / 2, lastInbound &+ 2 * intervalNs)
    }

    mutating func tick(now: UInt64) -> Action {
        guard intervalNs > 0 else { return .none }
        if now &- lastInbound >= 2 * intervalNs { return .peerSilent(forNs: now &- lastInbound) }
        if now &- lastOutbound >= intervalNs / 2 {
            lastOutbound = now
            return .send
        }
        return .none
    }
}
