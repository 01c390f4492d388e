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
    private let lock = ConditionLock()
    /// Callers waiting for `lock` (not guarded by it). Between inbound frames the I/O thread lends
    /// the lock to them while any wait, so an ack or a drain waits for one frame's work instead
    /// of a whole read's (a 16 KiB read of small deliveries held it ~150 µs).
    private let callersWaiting = Atomic<Int>(0)
    // Everything below is guarded by `lock`, except where noted.
    /// The I/O thread has lent the lock and waits for it back (see `callersWaiting`).
    private var ioLending = false
    private var engine: ConnectionStateMachine
    private var output = EngineOutput()
    private var queue: [EngineEvent] = []
    private var queueHead = 0
    private var queuedBytes = 0
    private var waiters: [RequestID: Result<Reply, AMQPError>?] = [:]
    private var abandoned: Set<RequestID> = []
    private var nextRequest: RequestID = 1
    private var threadStarted = false
    private var threadFinished = false
    private var stopRequested = false
    private var finalError: AMQPError?
    private var thread: pthread_t?
    /// Bytes the I/O thread has taken from `output` but not yet written.
    private var ioPendingBytes = 0
    private var publishWaiters = 0
    private var adoptedSocketUsed = false
    /// The plain socket while connected, for callers writing through; -1 with TLS (an SSL object
    /// takes one writer at a time, the I/O thread) or while not connected.
    private var directFD: Int32 = -1
    /// A caller is writing to `directFD` right now: nobody else writes, and the I/O thread leaves
    /// `output.outbound` alone so nothing overtakes the caller's bytes.
    private var callerWriting = false
    /// An emptied buffer kept for the next write-through, so it costs no allocation.
    private var spareBuffer: [UInt8] = []
    /// When a caller or the I/O thread last wrote to the socket (monotonic ns): commands more than
    /// 50 µs after it are sparse and written through.
    private var lastWrite: UInt64 = 0
    /// The I/O thread will look at the outbound buffer again without being woken: it is running,
    /// or, having just written, in a short poll (at most `lingerNs`). Commands then do not signal
    /// it, so a stream of commands a few microseconds apart (a Python publisher, acks) costs a
    /// wake-up per linger, not one per command.
    private var ioWillLook = false
    private static let lingerNs = 50_000
    /// Something other than publishes outside confirm mode is among the queued frames (a request
    /// awaiting its reply, an ack, a publish whose confirm someone waits for): the I/O thread
    /// sends at once instead of gathering more (see `gatherBytes`), since the peer's answer to
    /// it paces the application.
    private var urgentOutbound = false
    /// While commands come densely (the I/O thread wrote in its last turn) and only publishes
    /// outside confirm mode are queued, less than this many bytes wait up to one linger for
    /// more, so that one send carries many of them.
    private static let gatherBytes = 16 * 1024
    /// Log records above this level are not queued (0: none).
    private var logLevel = LogLevel.debug.rawValue
    private var bytesIn: UInt64 = 0
    private var bytesOut: UInt64 = 0

    /// Readable while events are queued. Owned by this object; closed on deinit.
    /// Readable while events are queued, once someone watches it (see `watchedEventFD`).
    private let eventFD: Int32
    /// Whether the application asked for the event fd: until then the queue does not signal and
    /// drain it, which saves a program that takes events with next_events two syscalls per batch.
    private var eventFDWatched = false
    /// Wakes the I/O thread when commands leave frames to write.
    private let wakeFD: Int32
    public let configuration: ConnectionConfiguration
    /// configuration.eventQueueLimit as an Int (it is a UInt64 option).
    private let eventQueueLimit: Int

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
    public func perform(blocking: Bool, _ body: (RequestID, inout ConnectionStateMachine, inout EngineOutput) -> Void) -> RequestID {
        lockAsCaller()
        let id = nextRequest
        nextRequest += 1
        if blocking { waiters[id] = .some(nil) }
        let hadOutbound = output.outbound.count > 0
        body(id, &engine, &output)
        if output.outbound.count > 0 { urgentOutbound = true }
        // Reading may be paused over the event-queue limit; a blocking request lets it go on (its
        // reply may sit behind deliveries), so the I/O thread must look again.
        if blocking && queuedBytes >= eventQueueLimit { output.timerChanged = true }
        finishCommand(hadOutbound: hadOutbound)
        return id
    }

    /// Runs `body` on the engine for a command that has no reply (publish, ack).
    public func withEngine<T>(_ body: (inout ConnectionStateMachine, inout EngineOutput) -> T) -> T {
        lockAsCaller()
        let hadOutbound = output.outbound.count > 0
        let result = body(&engine, &output)
        if output.outbound.count > 0 { urgentOutbound = true }
        finishCommand(hadOutbound: hadOutbound)
        return result
    }

    /// Runs a publish once publishing may go: waits up to `timeoutMs` while the broker blocked the
    /// connection or stopped the channel, too many publishes await confirms, or the outbound
    /// buffer is over its limit.
    public func publish(channel: UInt16, timeoutMs: UInt32,
                        _ body: (inout ConnectionStateMachine, inout EngineOutput) -> Result<UInt64, AMQPError>) -> Result<UInt64, AMQPError> {
        var deadline: UInt64 = 0 // read the clock only when a publish has to wait
        lockAsCaller()
        while let reason = publishPause(channel) {
            if timeoutMs == 0 {
                lock.unlock()
                return .failure(AMQPError(.wouldBlock, "publishing must wait: \(reason)", channel: channel))
            }
            if deadline == 0 { deadline = Timeout.deadline(afterMs: timeoutMs, from: monotonicNow()) }
            if monotonicNow() >= deadline {
                lock.unlock()
                return .failure(AMQPError(.timeout, "publish waited \(timeoutMs) ms: \(reason)", channel: channel))
            }
            publishWaiters += 1
            _ = lock.wait(until: deadline)
            publishWaiters -= 1
        }
        let hadOutbound = output.outbound.count > 0
        let result = body(&engine, &output)
        if output.outbound.count > 0, Self.borrow(&engine, { $0.isConfirming(channel) }) { urgentOutbound = true }
        finishCommand(hadOutbound: hadOutbound)
        return result
    }

    /// Ends a command: routes its events, then writes its frames from this thread when nobody else
    /// is writing (no wake-up, no thread hop), else leaves them to the I/O thread. Called with the
    /// lock held; returns with it released.
    private func finishCommand(hadOutbound: Bool) {
        var wake = route()
        if output.timerChanged {
            // The I/O thread may sleep towards a later deadline than the one just set.
            output.timerChanged = false
            wake = true
        }
        var direct: [UInt8] = []
        var writeDirect = false
        let fd = directFD
        if output.outbound.count > 0 {
            // Writing through saves the I/O thread's wake-up when commands are sparse; when they
            // come thick and fast, one send() per command costs more than letting frames pile up
            // for the I/O thread to send in one go.
            let now = monotonicNow()
            let sparse = now &- lastWrite > 50_000
            if sparse && fd >= 0 && !callerWriting && ioPendingBytes == 0 && !output.closeSocket {
                lastWrite = now
                callerWriting = true
                writeDirect = true
                swap(&direct, &spareBuffer)
                swap(&direct, &output.outbound.buffer)
            } else if !hadOutbound && !ioWillLook {
                wake = true
            }
        }
        unlockAsCaller()
        if writeDirect { writeThrough(&direct, fd: fd) }
        if wake { swiftamqp_shim_eventfd_signal(wakeFD) }
    }

    /// Takes the lock for a caller's command or drain, counted in `callersWaiting` while it
    /// waits so that the I/O thread lends it between frames.
    private func lockAsCaller() {
        if lock.tryLock() { return }
        callersWaiting.wrappingAdd(1, ordering: .relaxed)
        lock.lock()
        callersWaiting.wrappingSubtract(1, ordering: .relaxed)
    }

    /// Releases a lock taken with `lockAsCaller`, handing it back to the I/O thread when it lent
    /// it and no other caller waits.
    private func unlockAsCaller() {
        if ioLending && callersWaiting.load(ordering: .relaxed) == 0 { lock.handBack() }
        lock.unlock()
    }

    /// `body` under the lock taken as a caller.
    private func withCallerLock<T>(_ body: () -> T) -> T {
        lockAsCaller()
        defer { unlockAsCaller() }
        return body()
    }

    /// Sends `bytes` on the caller's thread without blocking; what the socket does not take goes
    /// back to the front of the outbound buffer for the I/O thread.
    private func writeThrough(_ bytes: inout [UInt8], fd: Int32) {
        var sent = 0
        bytes.withUnsafeBytes { raw in
            guard let base = raw.baseAddress else { return }
            while sent < raw.count {
                let n = send(fd, base + sent, raw.count - sent, Int32(MSG_NOSIGNAL) | Int32(MSG_DONTWAIT))
                if n > 0 { sent += n } else if n < 0 && errno == EINTR { continue } else { break }
            }
        }
        var wake = false
        lockAsCaller()
        callerWriting = false
        if sent > 0 {
            engine.noteOutbound(now: monotonicNow())
            bytesOut &+= UInt64(sent)
        }
        if sent < bytes.count {
            // A full socket or an error: the I/O thread waits for POLLOUT or reports the error.
            output.outbound.buffer.insert(contentsOf: bytes[sent...], at: 0)
            wake = true
        } else if output.outbound.count > 0 {
            wake = true
        }
        // Emptied in place (the only reference: a copy would allocate a new buffer per write).
        bytes.removeAll(keepingCapacity: true)
        swap(&spareBuffer, &bytes)
        lock.broadcast() // publish waiters, and run() waiting to close the socket
        unlockAsCaller()
        if wake { swiftamqp_shim_eventfd_signal(wakeFD) }
    }

    /// The event queue is full: the I/O thread stops reading so TCP makes the broker hold
    /// deliveries. While a blocking call waits, reading goes on up to four times the limit, since
    /// its reply may sit behind deliveries the application has not drained. Called with the lock held.
    private var readingPaused: Bool {
        guard queuedBytes >= eventQueueLimit else { return false }
        if waiters.isEmpty { return true }
        let (hardLimit, overflow) = eventQueueLimit.multipliedReportingOverflow(by: 4)
        return !overflow && queuedBytes >= hardLimit
    }

    /// Called with the lock held.
    private func publishPause(_ channel: UInt16) -> String? {
        // A closed connection fails the publish at once instead of waiting for its timeout.
        if engine.state == .closed { return nil }
        if let reason = Self.borrow(&engine, { $0.publishPause(channel) }) { return reason }
        if output.outbound.count + ioPendingBytes >= Int(clamping: configuration.outboundLimit) {
            return "\(output.outbound.count + ioPendingBytes) bytes await sending (outbound_limit \(configuration.outboundLimit))"
        }
        return nil
    }

    /// Reads from the engine in place. A non-mutating call on the stored property itself copies the
    /// whole engine (measured: a retain of every field per publish); through inout it does not.
    @inline(__always)
    private static func borrow<T>(_ engine: inout ConnectionStateMachine, _ body: (inout ConnectionStateMachine) -> T) -> T {
        body(&engine)
    }

    /// Counters of the engine and the socket, and the event queue's current size.
    public func statistics() -> (engine: EngineCounters, bytesIn: UInt64, bytesOut: UInt64, queuedBytes: Int) {
        lock.withLock { (engine.counters, bytesIn, bytesOut, queuedBytes) }
    }

    /// The event fd for the application (readable exactly while events are queued); from the
    /// first call on the queue keeps it so.
    public func watchedEventFD() -> Int32 {
        lock.withLock {
            if !eventFDWatched {
                eventFDWatched = true
                if queueHead < queue.count { swiftamqp_shim_eventfd_signal(eventFD) }
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
                if case .some(.some(let result)) = waiters[id] {
                    waiters[id] = nil
                    return result
                }
                if monotonicNow() >= deadline || !lock.wait(until: deadline) && monotonicNow() >= deadline {
                    if case .some(.some(let result)) = waiters[id] {
                        waiters[id] = nil
                        return result
                    }
                    waiters[id] = nil
                    abandoned.insert(id)
                    engine.abandon(id)
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
            let id = nextRequest
            nextRequest += 1
            waiters[id] = .some(nil)
            return id
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

    // MARK: - Events

    /// Moves up to `limit` events out of the queue into `batch` (emptied first, its capacity kept,
    /// so a steady stream of drains allocates nothing), waiting up to `timeoutMs` for the first
    /// one. With `minCount` > 1 and a `lingerNs`, once the first event is there it waits up to
    /// `lingerNs` more (never past the deadline) for `minCount` events, so a consumer takes bigger
    /// batches with fewer wake-ups. False when the connection has ended and every event was taken.
    public func takeEvents(into batch: inout [EngineEvent], limit: Int, timeoutMs: UInt32, minCount: Int = 1,
                           lingerNs: UInt64 = 0) -> Bool {
        batch.removeAll(keepingCapacity: true)
        let deadline = Timeout.deadline(afterMs: timeoutMs, from: monotonicNow())
        var wakeIO = false
        let open: Bool = withCallerLock {
            while queueHead == queue.count {
                if finalError != nil { return false }
                if timeoutMs == 0 || monotonicNow() >= deadline { return true }
                _ = lock.wait(until: deadline)
            }
            if minCount > 1 && lingerNs > 0 {
                let (lingerEnd, overflow) = monotonicNow().addingReportingOverflow(lingerNs)
                let until = overflow ? deadline : min(lingerEnd, deadline)
                // The connection's end, or a queue at its limit (reading has paused), ends the wait too.
                while queue.count - queueHead < minCount && finalError == nil && queuedBytes < eventQueueLimit
                        && monotonicNow() < until {
                    _ = lock.wait(until: until)
                }
            }
            // `limit` may be as large as Int.max: never add it to anything.
            let end = queueHead + min(queue.count - queueHead, max(limit, 1))
            let wasOverLimit = queuedBytes >= eventQueueLimit
            for index in queueHead..<end {
                // Moved out, not copied: the queue must not keep the event's message alive, or
                // the drain could not hand it back for reuse.
                var event = EngineEvent.unblocked
                swap(&event, &queue[index])
                queuedBytes -= Self.size(of: event)
                batch.append(event)
            }
            queueHead = end
            if queueHead == queue.count {
                queue.removeAll(keepingCapacity: true)
                queueHead = 0
                if eventFDWatched { swiftamqp_shim_eventfd_drain(eventFD) }
            } else if queueHead > 4096 {
                queue.removeFirst(queueHead)
                queueHead = 0
            }
            wakeIO = wasOverLimit && queuedBytes < eventQueueLimit
            return true
        }
        if wakeIO { swiftamqp_shim_eventfd_signal(wakeFD) }
        return open
    }

    /// Takes back the messages of events the application has been handed (converted to C), for the
    /// engine to fill again instead of allocating; `events` is emptied.
    public func recycle(_ events: inout [EngineEvent]) {
        withCallerLock {
            for index in events.indices {
                var message: InboundMessage?
                switch events[index] {
                case .delivery(let m), .returned(let m), .lateGetMessage(let m), .completion(_, _, .success(.message(let m))):
                    message = m
                default:
                    continue
                }
                events[index] = .unblocked // drop the array's reference: `message` must be the only one
                engine.reuse(&message)
            }
        }
        events.removeAll(keepingCapacity: true)
    }

    /// Sends completions to their blocking waiters and everything else to the event queue.
    /// Called with the lock held; true when the I/O thread must be woken (socket to close).
    private func route() -> Bool {
        guard !output.events.isEmpty else { return output.closeSocket }
        var signalled = false
        let wasEmpty = queueHead == queue.count
        for event in output.events {
            if case .completion(let id, _, let result) = event {
                if waiters[id] != nil {
                    waiters[id] = .some(result)
                    signalled = true
                    continue
                }
                if abandoned.remove(id) != nil { continue }
            }
            if case .log(let level, _) = event, level.rawValue > logLevel { continue }
            if case .connectionClosed(let error) = event { finalError = error }
            queuedBytes += Self.size(of: event)
            queue.append(event)
            signalled = true
        }
        output.events.removeAll(keepingCapacity: true)
        if eventFDWatched && wasEmpty && queueHead < queue.count { swiftamqp_shim_eventfd_signal(eventFD) }
        if signalled { lock.broadcast() }
        return output.closeSocket
    }

    private static func size(of event: EngineEvent) -> Int {
        switch event {
        case .delivery(let message), .returned(let message), .lateGetMessage(let message): return 256 + message.body.count
        case .completion(_, _, .success(.message(let message))): return 256 + message.body.count
        default: return 128
        }
    }

    // MARK: - The I/O thread

    private func run(request: RequestID) {
        swiftamqp_shim_block_sigpipe()
        let endpoints = [Endpoint(host: configuration.host, port: configuration.port)] + configuration.endpoints
        // The application freed the connection, or gave up on its open.
        let cancelled = { self.lock.withLock { self.stopRequested || self.engine.state == .closed } }
        var first = true
        // Failed attempts since the last successful reconnect (backoff and the give-up limit
        // count these), and a rotation through the endpoints that never resets.
        var attempt = 0
        var rotation = 0
        var lastError = AMQPError(.connectionLost, "not connected")
        var random = SplitMix(seed: monotonicNow())
        while true {
            let deadline = Timeout.deadline(afterMs: configuration.connectTimeoutMs, from: monotonicNow())
            // The first connect tries each endpoint in turn within one timeout; recovery takes the
            // next endpoint on each attempt.
            let candidates = first ? endpoints : [endpoints[(rotation - 1) % endpoints.count]]
            var opened: (ByteStream, Endpoint)?
            for endpoint in candidates where opened == nil && !cancelled() {
                switch open(endpoint, deadline: deadline, cancelled: cancelled) {
                case .success(let stream): opened = (stream, endpoint)
                case .failure(let error): lastError = error
                }
            }
            if let (stream, endpoint) = opened {
                perform(blocking: false) { _, engine, output in
                    if first {
                        engine.start(request: request, now: monotonicNow(), into: &output)
                    } else {
                        // Nothing of the old connection may reach the new one.
                        output.outbound.buffer.removeAll(keepingCapacity: true)
                        output.closeSocket = false
                        output.newFrameMax = nil
                        output.events.append(.log(.info, "reconnected to \(endpoint.host):\(endpoint.port) (attempt \(attempt))"))
                        engine.resume(now: monotonicNow(), into: &output)
                    }
                }
                let handshakesBefore = lock.withLock { () -> Int in
                    directFD = stream.isTLS ? -1 : stream.fd
                    return engine.handshakesCompleted
                }
                loop(stream)
                if lock.withLock({ engine.handshakesCompleted }) > handshakesBefore { attempt = 0 }
                lock.withLock {
                    // No caller may still be writing to a descriptor about to be closed and reused.
                    directFD = -1
                    while callerWriting { _ = lock.wait(until: monotonicNow() &+ 1_000_000_000) }
                }
                stream.shutdown()
                close(stream.fd)
            } else if first {
                let error = lastError
                lock.withLock {
                    output.events.append(.completion(request, channel: 0, .failure(error)))
                    engine.connectionLost(error, into: &output)
                    _ = route()
                }
                break
            } else {
                let error = lastError
                lock.withLock {
                    output.events.append(.log(.warning, "recovery attempt \(attempt) failed: \(error)"))
                    _ = route()
                }
            }
            // Go on only while the engine waits for a reconnect.
            let recovering = lock.withLock { engine.state == .recovering && !stopRequested }
            first = false
            guard recovering, let policy = configuration.recovery else { break }
            attempt += 1
            rotation += 1
            if policy.maxAttempts > 0 && attempt > Int(policy.maxAttempts) {
                let error = lastError
                lock.withLock {
                    engine.recoveryGaveUp(AMQPError(error.kind, "gave up after \(policy.maxAttempts) attempts: \(error.message)"), into: &output)
                    _ = route()
                }
                break
            }
            if !sleep(ms: policy.delayMs(attempt: attempt - 1, random: random.next())) { break }
        }
        lock.withLock {
            threadFinished = true
            lock.broadcast()
        }
    }

    /// Connects to `endpoint` and starts TLS when configured.
    private func open(_ endpoint: Endpoint, deadline: UInt64, cancelled: () -> Bool) -> Result<ByteStream, AMQPError> {
        let fd: Int32
        if configuration.socketFD >= 0 && endpoint.host == configuration.host && endpoint.port == configuration.port {
            // An adopted socket is used once; a recovery connects anew.
            let adopted = lock.withLock { () -> Int32 in
                defer { adoptedSocketUsed = true }
                return adoptedSocketUsed ? -1 : configuration.socketFD
            }
            if adopted >= 0 {
                configureSocket(adopted)
                fd = adopted
            } else {
                switch connectSocket(host: endpoint.host, port: endpoint.port, deadline: deadline, cancelled: cancelled) {
                case .success(let s): fd = s
                case .failure(let error): return .failure(error)
                }
            }
        } else {
            switch connectSocket(host: endpoint.host, port: endpoint.port, deadline: deadline, cancelled: cancelled) {
            case .success(let s): fd = s
            case .failure(let error): return .failure(error)
            }
        }
        let stream = ByteStream(fd: fd)
        if let tls = configuration.tls, let failure = stream.startTLS(tls, host: endpoint.host, deadline: deadline, cancelled: cancelled) {
            close(fd)
            return .failure(failure)
        }
        return .success(stream)
    }

    /// Waits `ms` unless the application stops or closes the connection meanwhile; false then.
    private func sleep(ms: UInt32) -> Bool {
        let deadline = Timeout.deadline(afterMs: ms, from: monotonicNow())
        while true {
            let going = lock.withLock { engine.state == .recovering && !stopRequested }
            guard going else { return false }
            let now = monotonicNow()
            if now >= deadline { return true }
            var wake = pollfd(fd: wakeFD, events: Int16(POLLIN), revents: 0)
            if poll(&wake, 1, Int32(min((deadline - now) / 1_000_000 + 1, 1000))) > 0 { swiftamqp_shim_eventfd_drain(wakeFD) }
        }
    }

    private func loop(_ stream: ByteStream) {
        var parser = FrameParser(frameMax: engine.initialFrameMax)
        var pending: [UInt8] = []
        var pendingOffset = 0
        var closing = false
        // What the stream asked for before it can go on (TLS may read to write, or write to read).
        var writeWaitsFor = Int16(POLLOUT)
        var readWaitsForWrite = false
        var fds = [pollfd](repeating: pollfd(fd: -1, events: 0, revents: 0), count: 2)

        while true {
            // Take what commands and the engine want written, and the next timer.
            var deadline: UInt64?
            var readPaused = false
            var stop = false
            lock.withLock {
                ioWillLook = true
                if output.outbound.count > 0 && !callerWriting {
                    urgentOutbound = false // all of it is taken now
                    if pendingOffset == pending.count {
                        pending.removeAll(keepingCapacity: true)
                        pendingOffset = 0
                        swap(&pending, &output.outbound.buffer)
                    } else {
                        pending.append(contentsOf: output.outbound.buffer)
                        output.outbound.buffer.removeAll(keepingCapacity: true)
                    }
                }
                ioPendingBytes = pending.count - pendingOffset
                if output.closeSocket { closing = true }
                if let frameMax = output.newFrameMax {
                    parser.frameMax = frameMax
                    output.newFrameMax = nil
                }
                deadline = Self.borrow(&engine) { $0.nextDeadline }
                readPaused = readingPaused
                stop = stopRequested
            }
            if stop {
                lock.withLock {
                    engine.terminate(AMQPError(.closedByApplication, "connection freed by the application"), into: &output)
                    _ = route()
                }
                return
            }

            // Write as much as the stream takes.
            var wrote = false
            while pendingOffset < pending.count {
                let result = pending.withUnsafeBytes { raw in
                    stream.write(UnsafeRawBufferPointer(rebasing: raw[pendingOffset...]))
                }
                var progressed = false
                switch result {
                case .transferred(let n):
                    pendingOffset += n
                    progressed = true
                    wrote = true
                    let remaining = pending.count - pendingOffset
                    lock.withLock {
                        let now = monotonicNow()
                        engine.noteOutbound(now: now)
                        lastWrite = now
                        bytesOut &+= UInt64(n)
                        ioPendingBytes = remaining
                        if publishWaiters > 0 { lock.broadcast() }
                    }
                case .wantWrite: writeWaitsFor = Int16(POLLOUT)
                case .wantRead: writeWaitsFor = Int16(POLLIN)
                case .closed:
                    fail(AMQPError(.connectionLost, "the peer closed the socket while we were writing"))
                    return
                case .failed(let error):
                    fail(error)
                    return
                }
                if !progressed { break }
            }
            if closing && pendingOffset == pending.count { return }

            // Wait for the socket, a wake-up or the next timer.
            var socketEvents: Int16 = 0
            if !readPaused && !closing { socketEvents |= readWaitsForWrite ? Int16(POLLOUT) : Int16(POLLIN) }
            if pendingOffset < pending.count { socketEvents |= writeWaitsFor }
            // Filled in place each turn: an array literal here would allocate per poll.
            fds[0] = pollfd(fd: stream.fd, events: socketEvents, revents: 0)
            fds[1] = pollfd(fd: wakeFD, events: Int16(POLLIN), revents: 0)
            var timeout: Int32 = -1
            if closing { timeout = 1000 }
            if let deadline {
                let now = monotonicNow()
                let ms = deadline > now ? (deadline - now + 999_999) / 1_000_000 : 0
                timeout = timeout < 0 ? Int32(min(ms, 60_000)) : min(timeout, Int32(min(ms, 60_000)))
            }
            let buffered = !readPaused && !closing && stream.hasBufferedInput
            if buffered { timeout = 0 }
            // Frames queued while this thread ran are taken at once. After a write more commands
            // are likely on their way: wait for them a little without being woken (see
            // ioWillLook). Otherwise sleep, and from now on commands must wake this thread.
            var lingering = false
            if timeout != 0 {
                let queued = lock.withLock {
                    let dense = wrote && !closing && pendingOffset == pending.count
                    if output.outbound.count > 0 && !callerWriting && !closing {
                        // a few publishes or acks in a dense stream: gather more before sending
                        guard dense && !urgentOutbound && output.outbound.count < Self.gatherBytes else { return true }
                    }
                    lingering = dense
                    ioWillLook = lingering
                    return false
                }
                if queued { timeout = 0 }
            }
            let ready: Int32
            if lingering {
                ready = swiftamqp_shim_poll_ns(&fds, 2, Self.lingerNs)
            } else {
                ready = poll(&fds, 2, timeout)
            }
            if ready < 0 && errno != EINTR {
                fail(AMQPError(.io, "poll failed: \(String(cString: strerror(errno)))"))
                return
            }
            if fds[1].revents & Int16(POLLIN) != 0 { swiftamqp_shim_eventfd_drain(wakeFD) }
            if closing && ready == 0 && pendingOffset < pending.count { return } // peer stopped reading

            let readable = fds[0].revents & Int16(POLLIN | POLLHUP | POLLERR) != 0
                || (readWaitsForWrite && fds[0].revents & Int16(POLLOUT) != 0)
            if (readable || buffered) && !closing && !readPaused {
                switch readStream(stream, &parser) {
                case .ended: return
                case .waitsForWrite: readWaitsForWrite = true
                case .drained: readWaitsForWrite = false
                }
            }

            let now = monotonicNow()
            if let deadline, now >= deadline {
                // Not reading is our doing, not the peer's silence: while bytes wait unread on the
                // socket the peer is alive, and the dead-peer check must not fire.
                let unread = readPaused && !closing && (stream.hasBufferedInput || Self.hasUnreadInput(stream.fd))
                lock.withLock {
                    if unread { engine.noteInbound(now: now) }
                    engine.tick(now: now, into: &output)
                    _ = route()
                }
            }
        }
    }

    /// Whether the socket holds received bytes not read yet (a peek, nothing consumed).
    private static func hasUnreadInput(_ fd: Int32) -> Bool {
        var byte: UInt8 = 0
        return recv(fd, &byte, 1, Int32(MSG_PEEK) | Int32(MSG_DONTWAIT)) > 0
    }

    private enum ReadOutcome { case drained, waitsForWrite, ended }

    /// Reads what is available and feeds whole frames to the engine.
    /// Reads what is available and feeds whole frames to the engine after each read, stopping once
    /// the event queue reaches its limit, so it overshoots by one read's messages at most.
    private func readStream(_ stream: ByteStream, _ parser: inout FrameParser) -> ReadOutcome {
        for _ in 0..<64 {
            var endError: AMQPError?
            var parseError: WireError?
            var outcome = ReadOutcome.drained
            var received = 0
            var offered = 0
            var result = StreamResult.wantRead
            do {
                _ = try parser.withWritableSpace(minimum: 16 * 1024) { space in
                    offered = space.count
                    result = stream.read(into: space)
                    if case .transferred(let n) = result { return n }
                    return 0
                }
            } catch {
                parseError = error as? WireError ?? .allocationFailed(size: 0)
            }
            switch result {
            case .transferred(let n): received = n
            case .wantRead: break
            case .wantWrite: outcome = .waitsForWrite
            case .closed: endError = AMQPError(.connectionLost, "the peer closed the socket without connection.close")
            case .failed(let error): endError = error
            }
            let now = monotonicNow()
            let full: Bool = lock.withLock {
                bytesIn &+= UInt64(received)
                if received > 0 { engine.noteInbound(now: now) }
                // Each frame goes to the engine as it is cut from the chunk, under the lock taken
                // once per read: no array of frames to copy them through.
                if received > 0 && parseError == nil {
                    do {
                        while let frame = try parser.next() {
                            engine.receive(frame, now: now, into: &output)
                            if let frameMax = output.newFrameMax {
                                parser.frameMax = frameMax
                                output.newFrameMax = nil
                            }
                            if callersWaiting.load(ordering: .relaxed) > 0 { lendLock() }
                        }
                    } catch {
                        parseError = error as? WireError ?? .allocationFailed(size: 0)
                    }
                }
                if let parseError { engine.protocolError(parseError, into: &output) }
                if let endError { engine.connectionLost(endError, into: &output) }
                _ = route()
                if let frameMax = output.newFrameMax {
                    parser.frameMax = frameMax
                    output.newFrameMax = nil
                }
                return readingPaused
            }
            if endError != nil { return .ended }
            if parseError != nil || received == 0 || full { return outcome }
            // A read that did not fill the space took all there was: the next one would most
            // likely only say so (a syscall per wake-up: a fifth of a round trip's). Whatever
            // came since, poll() reports, and OpenSSL's buffered bytes the loop checks itself.
            if received < offered { return .drained }
        }
        return .drained
    }

    /// Lets the callers waiting for the lock run their commands between two inbound frames (the
    /// engine is between frames, so this is as if the read had been cut there); the lock is held
    /// again on return. Bounded: a caller that does not show within 200 µs is not waited for.
    private func lendLock() {
        ioLending = true
        lock.lend(until: monotonicNow() &+ 200_000)
        ioLending = false
    }

    private func fail(_ error: AMQPError) {
        lock.withLock {
            engine.connectionLost(error, into: &output)
            _ = route()
        }
    }
}

/// A small, fast generator for reconnect jitter (no Foundation, no global state).
struct SplitMix {
    var state: UInt64
    init(seed: UInt64) { state = seed }
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}

private final class IOThreadContext {
    let connection: Connection
    let request: RequestID
    init(connection: Connection, request: RequestID) {
        self.connection = connection
        self.request = request
    }
}
