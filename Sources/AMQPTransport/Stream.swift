#if canImport(Glibc)
import Glibc
#endif
import AMQPEngine
import CShim

/// What one read or write on the connection's byte stream did.
enum StreamResult {
    case transferred(Int)
    /// Retry when the socket is readable (TLS may need to read before it can write).
    case wantRead
    /// Retry when the socket is writable.
    case wantWrite
    /// The peer ended the stream.
    case closed
    case failed(AMQPError)
}

/// The connection's byte stream: the plain socket, or TLS over it. Used by the I/O thread only.
final class ByteStream {
    let fd: Int32
    private var tls: OpaquePointer?
    private var context: OpaquePointer?
    private var errorText = [CChar](repeating: 0, count: 512)

    init(fd: Int32) { self.fd = fd }

    deinit {
        if let tls { swiftamqp_tls_free(tls) }
        if let context { swiftamqp_tls_context_free(context) }
    }

    var isTLS: Bool { tls != nil }

    private func lastError() -> String {
        errorText.withUnsafeBufferPointer { $0.baseAddress.map { String(cString: $0) } ?? "" }
    }

    /// Wraps the socket in TLS and completes the handshake by `deadline`.
    func startTLS(_ settings: TLSConfiguration, host: String, deadline: UInt64, cancelled: () -> Bool) -> AMQPError? {
        let caBlobs = settings.caCertificates
        let made: OpaquePointer? = withCStrings([settings.caFile, settings.caDirectory, settings.certificateFile, settings.keyFile,
                                                  settings.keyPassword, settings.ciphers]) { strings in
            withDERList(caBlobs) { pointers, lengths in
                var raw = swiftamqp_tls_settings(
                    ca_file: strings[0], ca_dir: strings[1], ca_der: pointers, ca_der_lengths: lengths, ca_der_count: caBlobs.count,
                    cert_file: strings[2], key_file: strings[3], key_password: strings[4], ciphers: strings[5],
                    verify_peer: !settings.insecureSkipVerify)
                return errorText.withUnsafeMutableBufferPointer { swiftamqp_tls_context_new(&raw, $0.baseAddress, $0.count) }
            }
        }
        guard let made else { return AMQPError(.tls, lastError()) }
        context = made
        let name = settings.serverName ?? host
        let verifyHost = !settings.insecureSkipVerify && !settings.insecureSkipHostnameCheck
        tls = errorText.withUnsafeMutableBufferPointer { swiftamqp_tls_new(made, fd, name, verifyHost, $0.baseAddress, $0.count) }
        guard let tls else { return AMQPError(.tls, lastError()) }
        while true {
            let step = errorText.withUnsafeMutableBufferPointer { swiftamqp_tls_handshake(tls, $0.baseAddress, $0.count) }
            var events: Int16
            switch step {
            case Int32(SWIFTAMQP_TLS_DONE): return nil
            case Int32(SWIFTAMQP_TLS_WANT_READ): events = Int16(POLLIN)
            case Int32(SWIFTAMQP_TLS_WANT_WRITE): events = Int16(POLLOUT)
            default: return AMQPError(.tls, lastError())
            }
            let now = monotonicNow()
            if now >= deadline { return AMQPError(.timeout, "the TLS handshake did not finish within the connection timeout") }
            if cancelled() { return AMQPError(.connectionClosed, "connect cancelled") }
            var pfd = pollfd(fd: fd, events: events, revents: 0)
            _ = poll(&pfd, 1, Int32(min((deadline - now) / 1_000_000 + 1, 100)))
        }
    }

    func read(into buffer: UnsafeMutableRawBufferPointer) -> StreamResult {
        if let tls {
            let n = errorText.withUnsafeMutableBufferPointer { swiftamqp_tls_read(tls, buffer.baseAddress, buffer.count, $0.baseAddress, $0.count) }
            return tlsResult(n)
        }
        let n = recv(fd, buffer.baseAddress, buffer.count, 0)
        if n > 0 { return .transferred(n) }
        if n == 0 { return .closed }
        switch errno {
        case EAGAIN, EWOULDBLOCK, EINTR: return .wantRead
        default: return .failed(AMQPError(.io, "read failed: \(String(cString: strerror(errno)))"))
        }
    }

    func write(_ buffer: UnsafeRawBufferPointer) -> StreamResult {
        if let tls {
            let n = errorText.withUnsafeMutableBufferPointer { swiftamqp_tls_write(tls, buffer.baseAddress, buffer.count, $0.baseAddress, $0.count) }
            return tlsResult(n)
        }
        let n = send(fd, buffer.baseAddress, buffer.count, Int32(MSG_NOSIGNAL))
        if n >= 0 { return .transferred(n) }
        switch errno {
        case EAGAIN, EWOULDBLOCK, EINTR: return .wantWrite
        default: return .failed(AMQPError(.io, "write failed: \(String(cString: strerror(errno)))"))
        }
    }

    /// Decrypted bytes OpenSSL holds that poll() cannot see.
    var hasBufferedInput: Bool {
        guard let tls else { return false }
        return swiftamqp_tls_pending(tls) > 0
    }

    func shutdown() {
        if let tls { swiftamqp_tls_shutdown(tls) }
    }

    private func tlsResult(_ n: Int) -> StreamResult {
        if n > 0 { return .transferred(n) }
        switch Int32(n) {
        case Int32(SWIFTAMQP_TLS_WANT_READ): return .wantRead
        case Int32(SWIFTAMQP_TLS_WANT_WRITE): return .wantWrite
        case Int32(SWIFTAMQP_TLS_CLOSED): return .closed
        default: return .failed(AMQPError(.tls, lastError()))
        }
    }
}

/// Calls `body` with C strings for `strings` (NULL for nil), valid during the call.
private func withCStrings<R>(_ strings: [String?], _ body: ([UnsafePointer<CChar>?]) -> R) -> R {
    let copies = strings.map { $0.flatMap { strdup($0) } }
    defer { for copy in copies { free(copy) } }
    return body(copies.map { $0.map { UnsafePointer($0) } })
}

/// Calls `body` with C arrays of pointers and lengths for the DER blobs, valid during the call.
private func withDERList<R>(_ blobs: [[UInt8]], _ body: (UnsafePointer<UnsafePointer<UInt8>?>?, UnsafePointer<Int>?) -> R) -> R {
    let copies: [UnsafeMutablePointer<UInt8>] = blobs.map { blob in
        let copy = UnsafeMutablePointer<UInt8>.allocate(capacity: max(blob.count, 1))
        copy.initialize(from: blob, count: blob.count)
        return copy
    }
    defer { for copy in copies { copy.deallocate() } }
    let pointers: [UnsafePointer<UInt8>?] = copies.map { UnsafePointer($0) }
    let lengths = blobs.map(\.count)
    return pointers.withUnsafeBufferPointer { p in lengths.withUnsafeBufferPointer { l in body(p.baseAddress, l.baseAddress) } }
}
