#if canImport(Glibc)
import Glibc
#endif
import AMQPEngine
import AMQPWire
import CShim

/// The I/O thread's life: connect (or adopt the socket), run the loop, and while automatic recovery
/// is on, reconnect with backoff through the endpoints.
extension Connection {
    func run(request: RequestID) {
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
        lock.withLock { lock.broadcast() }
    }

    /// Connects to `endpoint` and starts TLS when configured.
    func open(_ endpoint: Endpoint, deadline: UInt64, cancelled: () -> Bool) -> Result<ByteStream, AMQPError> {
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
    func sleep(ms: UInt32) -> Bool {
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

/// What the I/O thread starts with (pthread_create passes one pointer).
final class IOThreadContext {
    let connection: Connection
    let request: RequestID
    init(connection: Connection, request: RequestID) {
        self.connection = connection
        self.request = request
    }
}
