#if canImport(Glibc)
import Glibc
#endif
import AMQPEngine
import CShim

/// Monotonic time in nanoseconds.
public func monotonicNow() -> UInt64 { swiftamqp_shim_now_ns() }

/// Resolves `host` and connects to each of its addresses in turn until one accepts, all within
/// `deadline`. The socket returned is non-blocking with TCP_NODELAY and keepalive set.
func connectSocket(host: String, port: UInt16, deadline: UInt64, cancelled: () -> Bool) -> Result<Int32, AMQPError> {
    var list: UnsafeMutablePointer<addrinfo>?
    let budget = deadline > monotonicNow() ? Int32(clamping: (deadline - monotonicNow()) / 1_000_000) : 0
    let status = swiftamqp_shim_resolve(host, String(port), budget, &list)
    guard status == 0, let first = list else {
        if status == EAI_AGAIN && monotonicNow() >= deadline {
            return .failure(AMQPError(.timeout, "resolving host '\(host)' took longer than the connection timeout"))
        }
        let reason = String(cString: gai_strerror(status))
        return .failure(AMQPError(.resolve, "could not resolve host '\(host)': \(reason)"))
    }
    defer { freeaddrinfo(list) }
    var lastError = "no address"
    var entry: UnsafeMutablePointer<addrinfo>? = first
    while let info = entry {
        entry = info.pointee.ai_next
        if cancelled() { return .failure(AMQPError(.connectionClosed, "connect cancelled")) }
        let now = monotonicNow()
        guard now < deadline else {
            return .failure(AMQPError(.timeout, "connecting to \(host):\(port) timed out (last error: \(lastError))"))
        }
        let fd = socket(info.pointee.ai_family, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_NONBLOCK.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        if fd < 0 { lastError = String(cString: strerror(errno)); continue }
        var result = connect(fd, info.pointee.ai_addr, info.pointee.ai_addrlen)
        if result != 0 && errno == EINPROGRESS {
            result = waitConnected(fd, deadline: deadline, cancelled: cancelled)
            if result != 0 { lastError = result == -2 ? "timed out" : String(cString: strerror(result)) }
        } else if result != 0 {
            lastError = String(cString: strerror(errno))
        }
        if result == 0 {
            configureSocket(fd)
            return .success(fd)
        }
        close(fd)
        if result == -2 && monotonicNow() >= deadline {
            return .failure(AMQPError(.timeout, "connecting to \(host):\(port) timed out"))
        }
    }
    return .failure(AMQPError(.connect, "could not connect to \(host):\(port): \(lastError)"))
}

/// 0 when connected, an errno when refused, -2 on timeout or cancel.
private func waitConnected(_ fd: Int32, deadline: UInt64, cancelled: () -> Bool) -> Int32 {
    while true {
        let now = monotonicNow()
        if now >= deadline || cancelled() { return -2 }
        var pfd = pollfd(fd: fd, events: Int16(POLLOUT), revents: 0)
        let slice = min((deadline - now) / 1_000_000 + 1, 100)
        let ready = poll(&pfd, 1, Int32(slice))
        if ready < 0 && errno != EINTR { return errno }
        if ready > 0 {
            var error: Int32 = 0
            var length = socklen_t(MemoryLayout<Int32>.size)
            getsockopt(fd, SOL_SOCKET, SO_ERROR, &error, &length)
            return error
        }
    }
}

func configureSocket(_ fd: Int32) {
    var one: Int32 = 1
    setsockopt(fd, Int32(IPPROTO_TCP), TCP_NODELAY, &one, socklen_t(MemoryLayout<Int32>.size))
    setsockopt(fd, SOL_SOCKET, SO_KEEPALIVE, &one, socklen_t(MemoryLayout<Int32>.size))
    let flags = fcntl(fd, F_GETFL)
    if flags >= 0 { _ = fcntl(fd, F_SETFL, flags | O_NONBLOCK) }
}
