#if canImport(Glibc)
import Glibc
#endif
import AMQPEngine
import CShim

/// The outbound side of commands: once a command has run, its frames are written from the caller's
/// thread when that saves the I/O thread a wake-up, else left for the I/O thread (see
/// docs/ARCHITECTURE.md, "Threads").
extension Connection {
    /// Ends a command: routes its events, then writes its frames from this thread when nobody else
    /// is writing (no wake-up, no thread hop), else leaves them to the I/O thread. Called with the
    /// lock held; returns with it released.
    func finishCommand(hadOutbound: Bool) {
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

    /// Sends `bytes` on the caller's thread without blocking; what the socket does not take goes
    /// back to the front of the outbound buffer for the I/O thread.
    func writeThrough(_ bytes: inout [UInt8], fd: Int32) {
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
}
