import AMQPEngine

/// The requests a connection's callers wait for: a blocking waiter per request id until its
/// completion comes, and the ids whose waiter gave up (their late completions are dropped rather
/// than reaching anyone else). Guarded by the connection's lock.
struct RequestTable {
    /// Where a completion goes.
    enum Route: Equatable {
        /// A blocking caller waits for it: it is stored for `take`.
        case waiter
        /// Its caller gave up waiting: it goes nowhere.
        case dropped
        /// Nobody blocks on it (an `_async` request): it goes to the event queue.
        case eventQueue
    }

    private var waiters: [RequestID: Result<Reply, AMQPError>?] = [:]
    private var abandoned: Set<RequestID> = []
    private var next: RequestID = 1

    /// Whether any blocking caller waits (its reply may sit behind undrained deliveries).
    var hasWaiters: Bool { !waiters.isEmpty }

    /// A fresh id, never reused; with `blocking` a waiter is registered for it.
    mutating func allocate(blocking: Bool) -> RequestID {
        let id = next
        next += 1
        if blocking { waiters[id] = .some(nil) }
        return id
    }

    /// Routes the completion of `id`, storing it for its waiter when there is one.
    mutating func route(_ id: RequestID, _ result: Result<Reply, AMQPError>) -> Route {
        if waiters[id] != nil {
            waiters[id] = .some(result)
            return .waiter
        }
        return abandoned.remove(id) != nil ? .dropped : .eventQueue
    }

    /// The completion of `id` once it came (the waiter is then removed), else nil.
    mutating func take(_ id: RequestID) -> Result<Reply, AMQPError>? {
        guard case .some(.some(let result)) = waiters[id] else { return nil }
        waiters[id] = nil
        return result
    }

    /// The waiter of `id` gives up: a completion that comes later is dropped. With `engineForgot`
    /// the engine undoes the request's reply itself and sends no completion for it, so there is
    /// nothing to drop.
    mutating func abandon(_ id: RequestID, engineForgot: Bool) {
        waiters[id] = nil
        if !engineForgot { abandoned.insert(id) }
    }

    /// Whether `id` was handed out.
    func wasIssued(_ id: RequestID) -> Bool { id > 0 && id < next }

    /// Whether a blocking caller waits for `id`.
    func isWaited(_ id: RequestID) -> Bool { waiters[id] != nil }
}
