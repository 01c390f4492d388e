#if canImport(Glibc)
import Glibc
#endif
import AMQPEngine
import AMQPWire
import CShim
import Synchronization

/// One AMQP connection: the engine behind a lock, an I/O thread that owns the socket, the event
/// queue with its file descriptor, and waiters for blocking calls.
///
/// Any thread may call in. Commands run the engine under the lock and leave frames in the shared
/// outbound buffer; the I/O thread writes them, reads the socket, runs heartbeats and timers, and
/// never runs application code.
public final class Connection: @unchecked Sendable {
    let lock = ConditionLock()
    /// Callers waiting for `lock` (not guarded by it). Between inbound frames the I/O thread lends
    /// the lock to them while any wait, so an ack or a drain waits for one frame's work instead
    /// of a whole read's (a 16 KiB read of small deliveries held it ~150 µs).
    let callersWaiting = Atomic<Int>(0)
    // Everything below is guarded by `lock`, except where noted.
    /// The I/O thread has lent the lock and waits for it back (see `callersWaiting`).
    var ioLending = false
    var engine: ConnectionStateMachine
    var output = EngineOutput()
    var events = EventQueue()
    var requests = RequestTable()
    /// The successful completions of the batch the application holds (see `recycle`, `abandon`).
    var drainedCompletions: [(id: RequestID, channel: UInt16, reply: Reply)] = []
    var threadStarted = false
    var stopRequested = false
    var finalError: AMQPError?
    var thread: pthread_t?
    /// Bytes the I/O thread has taken from `output` but not yet written.
    var ioPendingBytes = 0
    var publishWaiters = 0
    var adoptedSocketUsed = false
    /// The plain socket while connected, for callers writing through; -1 with TLS (an SSL object
    /// takes one writer at a time, the I/O thread) or while not connected.
    var directFD: Int32 = -1
    /// A caller is writing to `directFD` right now: nobody else writes, and the I/O thread leaves
    /// `output.outbound` alone so nothing overtakes the caller's bytes.
    var callerWriting = false
    /// An emptied buffer kept for the next write-through, so it costs no allocation.
    var spareBuffer: [UInt8] = []
    /// When a caller or the I/O thread last wrote to the socket (monotonic ns): commands more than
    /// 50 µs after it are sparse and written through.
    var lastWrite: UInt64 = 0
    /// The I/O thread will look at the outbound buffer again without being woken: it is running,
    /// or, having just written, in a short poll (at most `lingerNs`). Commands then do not signal
    /// it, so a stream of commands a few microseconds apart (a Python publisher, acks) costs a
    /// wake-up per linger, not one per command.
    var ioWillLook = false
    static let lingerNs = 50_000
    /// Something other than publishes outside confirm mode is among the queued frames (a request
    /// awaiting its reply, an ack, a publish whose confirm someone waits for): the I/O thread
    /// sends at once instead of gathering more (see `gatherBytes`), since the peer's answer to
    /// it paces the application.
    var urgentOutbound = false
    /// While commands come densely (the I/O thread wrote in its last turn) and only publishes
    /// outside confirm mode are queued, less than this many bytes wait up to one linger for
    /// more, so that one send carries many of them.
    static let gatherBytes = 16 * 1024
    /// Log records above this level are not queued (0: none).
    var logLevel = LogLevel.debug.rawValue
    var bytesIn: UInt64 = 0
    var bytesOut: UInt64 = 0

    /// Readable while events are queued. Owned by this object; closed on deinit.
    /// Readable while events are queued, once someone watches it (see `watchedEventFD`).
    let eventFD: Int32
    /// Whether the application asked for the event fd: until then the queue does not signal and
    /// drain it, which saves a program that takes events with next_events two syscalls per batch.
    var eventFDWatched = false
    /// Wakes the I/O thread when commands leave frames to write.
    let wakeFD: Int32
    public let configuration: ConnectionConfiguration
    /// configuration.eventQueueLimit as an Int (it is a UInt64 option).
    let eventQueueLimit: Int

    public init?(configuration: ConnectionConfiguration) {
        let eventFD = swiftamqp_shim_eventfd()
        let wakeFD = swiftamqp_shim_eventfd()
        guard eventFD >= 0, wakeFD >= 0 else {
            if eventFD >= 0 { close(eventFD) }
            if wakeFD >= 0 { close(wakeFD) }
            return nil
        }
        self.eventFD = eventFD
        self.wakeFD = wakeFD
        self.configuration = configuration
        self.eventQueueLimit = Int(clamping: configuration.eventQueueLimit)
        self.engine = ConnectionStateMachine(configuration: configuration)
    }

    deinit {
        close(eventFD)
        close(wakeFD)
    }

    // MARK: - Commands

    /// Runs `body` on the engine under the lock with a fresh request id, registering a waiter
    /// first when `blocking`, then routes what the engine produced.
    @discardableResult
    func perform(blocking: Bool, _ body: (RequestID, inout ConnectionStateMachine, inout EngineOutput) -> Void) -> RequestID {
        lockAsCaller()
        let id = requests.allocate(blocking: blocking)
        let hadOutbound = output.outbound.count > 0
        body(id, &engine, &output)
        if output.outbound.count > 0 { urgentOutbound = true }
        // Reading may be paused over the event-queue limit; a blocking request lets it go on (its
        // reply may sit behind deliveries), so the I/O thread must look again.
        if blocking && events.bytes >= eventQueueLimit { output.timerChanged = true }
        finishCommand(hadOutbound: hadOutbound)
        return id
    }

    /// Runs `body` on the engine for a command that has no reply (publish, ack).
    func withEngine<T>(_ body: (inout ConnectionStateMachine, inout EngineOutput) -> T) -> T {
        lockAsCaller()
        let hadOutbound = output.outbound.count > 0
        let result = body(&engine, &output)
        if output.outbound.count > 0 { urgentOutbound = true }
        finishCommand(hadOutbound: hadOutbound)
        return result
    }

    /// Takes the lock for a publish once publishing may go: waits up to `timeoutMs` while the
    /// broker blocked the connection or stopped the channel, too many publishes await confirms,
    /// or the outbound buffer is over its limit. Returns with the lock held (then
    /// `finishPublish`) or, released, with the reason it could not wait. Not a closure over the
    /// publish: its arguments, captured, were copied per message.
    func beginPublish(channel: UInt16, timeoutMs: UInt32) -> AMQPError? {
        var deadline: UInt64 = 0 // read the clock only when a publish has to wait
        lockAsCaller()
        while let reason = publishPause(channel) {
            if timeoutMs == 0 {
                lock.unlock()
                return AMQPError(.wouldBlock, "publishing must wait: \(reason)", channel: channel)
            }
            if deadline == 0 { deadline = Timeout.deadline(afterMs: timeoutMs, from: monotonicNow()) }
            if monotonicNow() >= deadline {
                lock.unlock()
                return AMQPError(.timeout, "publish waited \(timeoutMs) ms: \(reason)", channel: channel)
            }
            publishWaiters += 1
            _ = lock.wait(until: deadline)
            publishWaiters -= 1
        }
        return nil
    }

    /// Ends a publish begun with `beginPublish` (which found `hadOutbound`): routes what the
    /// engine produced, sends or wakes the I/O thread, and releases the lock. A publish in confirm
    /// mode (it was given a sequence number) goes out at once: its confirm is being waited for.
    func finishPublish(_ result: Result<UInt64, AMQPError>, hadOutbound: Bool) {
        if output.outbound.count > 0, case .success(let sequence) = result, sequence != 0 { urgentOutbound = true }
        finishCommand(hadOutbound: hadOutbound)
    }

    /// Takes the lock for a caller's command or drain, counted in `callersWaiting` while it
    /// waits so that the I/O thread lends it between frames.
    func lockAsCaller() {
        if lock.tryLock() { return }
        callersWaiting.wrappingAdd(1, ordering: .relaxed)
        lock.lock()
        callersWaiting.wrappingSubtract(1, ordering: .relaxed)
    }

    /// Releases a lock taken with `lockAsCaller`, handing it back to the I/O thread when it lent
    /// it and no other caller waits.
    func unlockAsCaller() {
        if ioLending && callersWaiting.load(ordering: .relaxed) == 0 { lock.handBack() }
        lock.unlock()
    }

    /// `body` under the lock taken as a caller.
    func withCallerLock<T>(_ body: () -> T) -> T {
        lockAsCaller()
        defer { unlockAsCaller() }
        return body()
    }

    /// The event queue is full: the I/O thread stops reading so TCP makes the broker hold
    /// deliveries. While a blocking call waits, reading goes on up to four times the limit, since
    /// its reply may sit behind deliveries the application has not drained. Called with the lock held.
    var readingPaused: Bool {
        guard events.bytes >= eventQueueLimit else { return false }
        if !requests.hasWaiters { return true }
        let (hardLimit, overflow) = eventQueueLimit.multipliedReportingOverflow(by: 4)
        return !overflow && events.bytes >= hardLimit
    }

    /// Called with the lock held.
    func publishPause(_ channel: UInt16) -> String? {
        // A closed connection fails the publish at once instead of waiting for its timeout.
        if engine.state == .closed { return nil }
        if let reason = engine.publishPause(channel) { return reason }
        if output.outbound.count + ioPendingBytes >= Int(clamping: configuration.outboundLimit) {
            return "\(output.outbound.count + ioPendingBytes) bytes await sending (outbound_limit \(configuration.outboundLimit))"
        }
        return nil
    }

    /// Reads from the engine in place. A non-mutating call on the stored property itself copies the
    /// whole engine (measured: a retain of every field per publish); through inout it does not.
    @inline(__always)
    static func borrow<T>(_ engine: inout ConnectionStateMachine, _ body: (inout ConnectionStateMachine) -> T) -> T {
        body(&engine)
    }

    /// Counters of the engine and the socket, and the event queue's current size.
    public func statistics() -> (engine: EngineCounters, bytesIn: UInt64, bytesOut: UInt64, queuedBytes: Int) {
        lock.withLock { (engine.counters, bytesIn, bytesOut, events.bytes) }
    }

    /// The event fd for the application (readable exactly while events are queued); from the
    /// first call on the queue keeps it so.
    public func watchedEventFD() -> Int32 {
        lock.withLock {
            if !eventFDWatched {
                eventFDWatched = true
                if !events.isEmpty { swiftamqp_shim_eventfd_signal(eventFD) }
            }
        }
        return eventFD
    }

    /// The broker's connection.start server properties (empty until it arrived).
    public func serverProperties() -> FieldTable {
        lock.withLock { engine.serverProperties }
    }

    /// Waits for the completion of blocking request `id` until `timeoutMs` passes. On timeout the
    /// request is abandoned: its reply, when it comes, is dropped.
    public func wait(for id: RequestID, timeoutMs: UInt32) -> Result<Reply, AMQPError> {
        let deadline = Timeout.deadline(afterMs: timeoutMs, from: monotonicNow())
        return withCallerLock {
            while true {
                if let result = requests.take(id) { return result }
                if monotonicNow() >= deadline || !lock.wait(until: deadline) && monotonicNow() >= deadline {
                    if let result = requests.take(id) { return result }
                    requests.abandon(id, engineForgot: engine.abandon(id) != nil)
                    return .failure(AMQPError(.timeout, "no reply within \(timeoutMs) ms"))
                }
            }
        }
    }

    /// Starts the I/O thread, which connects (or adopts the configured socket) and begins the
    /// handshake; the completion of request `id` reports the outcome.
    public func open(request id: RequestID) -> AMQPError? {
        lock.lock()
        guard !threadStarted else {
            lock.unlock()
            return AMQPError(.badState, "the connection was already opened")
        }
        threadStarted = true
        lock.unlock()
        let context = Unmanaged.passRetained(IOThreadContext(connection: self, request: id)).toOpaque()
        var handle = pthread_t()
        let created = pthread_create(&handle, nil, { raw in
            guard let raw else { return nil }
            let context = Unmanaged<IOThreadContext>.fromOpaque(raw).takeRetainedValue()
            context.connection.run(request: context.request)
            return nil
        }, context)
        guard created == 0 else {
            Unmanaged<IOThreadContext>.fromOpaque(context).release()
            lock.withLock { threadStarted = false }
            return AMQPError(.io, "could not start the I/O thread: \(String(cString: strerror(created)))")
        }
        lock.withLock { thread = handle }
        return nil
    }

    /// Allocates a request id and registers a blocking waiter for it, without touching the engine.
    public func registerBlockingRequest() -> RequestID {
        lock.withLock {
            requests.allocate(blocking: true)
        }
    }

    /// Stops the I/O thread (closing the socket) and waits for it to end.
    public func shutdown() {
        let handle: pthread_t? = lock.withLock {
            stopRequested = true
            let handle = thread
            thread = nil
            return handle
        }
        swiftamqp_shim_eventfd_signal(wakeFD)
        if let handle { pthread_join(handle, nil) }
        lock.withLock {
            // Never opened, or stopped between recovery attempts: the engine has not ended yet.
            // End it, so threads blocked in a publish, a request or a drain wake now and
            // CONNECTION_CLOSED is the last event.
            engine.terminate(AMQPError(.closedByApplication, "connection freed by the application"), into: &output)
            _ = route()
            lock.broadcast()
            // The connection owns an adopted socket from creation on, used or not.
            if configuration.socketFD >= 0 && !adoptedSocketUsed {
                adoptedSocketUsed = true
                close(configuration.socketFD)
            }
        }
    }

    /// A blocking open gave up waiting: end the connection so it cannot open later behind the
    /// caller's back.
    public func abandonOpen() {
        withEngine { engine, output in
            engine.terminate(AMQPError(.timeout, "the open timed out; the connection was abandoned"), into: &output)
        }
    }

    public var isOpen: Bool { lock.withLock { engine.state == .open } }

    /// Queue log records up to `level` (1 errors ... 4 debug) from now on; 0 queues none.
    public func setLogLevel(_ level: Int32) {
        lock.withLock { logLevel = level }
    }

    public var tune: (channelMax: UInt16, frameMax: UInt32, heartbeat: UInt16) {
        lock.withLock { (engine.channelMax, engine.frameMax, engine.heartbeat) }
    }
}
