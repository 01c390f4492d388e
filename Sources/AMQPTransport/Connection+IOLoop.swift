#if canImport(Glibc)
import Glibc
#endif
import AMQPEngine
import AMQPWire
import CShim
import Synchronization

/// The I/O loop over one connected stream: writes what commands queued, reads frames into the
/// engine, runs its timers.
extension Connection {
    func loop(_ stream: ByteStream) {
        var parser = FrameParser(frameMax: lock.withLock { engine.initialFrameMax })
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
    static func hasUnreadInput(_ fd: Int32) -> Bool {
        var byte: UInt8 = 0
        return recv(fd, &byte, 1, Int32(MSG_PEEK) | Int32(MSG_DONTWAIT)) > 0
    }

    enum ReadOutcome { case drained, waitsForWrite, ended }

    /// Reads what is available and feeds whole frames to the engine after each read, stopping once
    /// the event queue reaches its limit, so it overshoots by one read's messages at most.
    func readStream(_ stream: ByteStream, _ parser: inout FrameParser) -> ReadOutcome {
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
            let (full, wakeWaiters): (Bool, Bool) = lock.withLock {
                bytesIn &+= UInt64(received)
                if received > 0 { engine.noteInbound(now: now) }
                // Each frame goes to the engine as it is cut from the chunk, under the lock taken
                // once per read: no array of frames to copy them through.
                if received > 0 && parseError == nil {
                    do {
                        while let frame = try parser.nextPayload() {
                            try engine.receive(frame, now: now, into: &output)
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
                let wake = routeLeavingWakeUp()
                if let frameMax = output.newFrameMax {
                    parser.frameMax = frameMax
                    output.newFrameMax = nil
                }
                return (readingPaused, wake)
            }
            // Woken after the lock is released, a consumer finds it free instead of sleeping on it
            // again at once (the state changed under the lock, and every waiter checks its
            // condition under it, so no wake-up is lost).
            if wakeWaiters { lock.broadcast() }
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
    func lendLock() {
        ioLending = true
        lock.lend(until: monotonicNow() &+ 200_000)
        ioLending = false
    }

    func fail(_ error: AMQPError) {
        lock.withLock {
            engine.connectionLost(error, into: &output)
            _ = route()
        }
    }
}
