#if canImport(Glibc)
import Glibc
#endif
@testable import AMQPEngine
@testable import AMQPTransport
@testable import AMQPWire

/// Plays the broker on the far end of a socketpair whose other end a Connection adopted as its
/// socket (configuration.socketFD): reads what the client writes, frame by frame, and writes
/// frames back. Used only by the test thread, with deadlines on every read.
final class ScriptedPeer {
    struct Timeout: Error, CustomStringConvertible {
        let what: String
        var description: String { "timed out waiting for \(what)" }
    }

    /// -1 once closed: closing a number twice could close a descriptor that another test (they
    /// run in parallel) opened meanwhile under the same number.
    private(set) var fd: Int32
    private var parser = FrameParser(frameMax: 1 << 24)
    private var unframed: [UInt8] = []
    private var headerSeen = false

    init(fd: Int32) { self.fd = fd }

    deinit { closeSocket() }

    /// A connected pair: the client's end (for configuration.socketFD) and the peer.
    static func pair() -> (client: Int32, peer: ScriptedPeer)? {
        var fds: [Int32] = [-1, -1]
        guard socketpair(AF_UNIX, Int32(SOCK_STREAM.rawValue), 0, &fds) == 0 else { return nil }
        return (fds[0], ScriptedPeer(fd: fds[1]))
    }

    func closeSocket() {
        if fd >= 0 { close(fd) }
        fd = -1
    }

    /// Waits up to `ms` for bytes; false on timeout. Appends them to what is not framed yet.
    private func receive(ms: Int32) -> Bool {
        var pfd = pollfd(fd: fd, events: Int16(POLLIN), revents: 0)
        guard poll(&pfd, 1, ms) > 0 else { return false }
        var chunk = [UInt8](repeating: 0, count: 65_536)
        let n = chunk.withUnsafeMutableBytes { recv(fd, $0.baseAddress, $0.count, 0) }
        guard n > 0 else { return false }
        unframed += chunk[0..<n]
        return true
    }

    /// The 8-byte protocol header every connection starts with.
    func expectProtocolHeader(ms: Int32 = 5000) throws {
        while unframed.count < 8 {
            guard receive(ms: ms) else { throw Timeout(what: "the protocol header") }
        }
        guard Array(unframed[0..<8]) == protocolHeader else { throw Timeout(what: "a valid protocol header") }
        unframed.removeFirst(8)
        headerSeen = true
    }

    /// The next frame the client sent, waiting up to `ms`; heartbeats are skipped.
    func nextFrame(ms: Int32 = 5000) throws -> Frame {
        while true {
            if !unframed.isEmpty {
                try parser.append(unframed)
                unframed.removeAll()
            }
            if let frame = try parser.next() {
                if case .heartbeat = frame { continue }
                return frame
            }
            guard receive(ms: ms) else { throw Timeout(what: "a frame") }
        }
    }

    /// The next method frame, or a failure naming what came instead.
    func nextMethod(ms: Int32 = 5000) throws -> (channel: UInt16, method: Method) {
        let frame = try nextFrame(ms: ms)
        guard case .method(let channel, let method) = frame else { throw Timeout(what: "a method frame, not \(frame)") }
        return (channel, method)
    }

    func send(_ bytes: [UInt8]) {
        var offset = 0
        while offset < bytes.count {
            let n = bytes[offset...].withUnsafeBytes { Glibc.send(fd, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }
            guard n > 0 else { return }
            offset += n
        }
    }

    func send(channel: UInt16 = 0, _ method: Method) throws {
        var writer = ByteWriter()
        try writer.writeMethodFrame(channel: channel, method)
        send(writer.buffer)
    }

    /// The broker's side of the handshake, as RabbitMQ plays it.
    func handshake(heartbeat: UInt16 = 0) throws {
        try expectProtocolHeader()
        try send(.connectionStart(ConnectionStart(serverProperties: ["product": .longString("scripted peer")],
                                                  mechanisms: "PLAIN AMQPLAIN")))
        guard case .connectionStartOk = try nextMethod().method else { throw Timeout(what: "connection.start-ok") }
        try send(.connectionTune(ConnectionTune(channelMax: 2047, frameMax: 131_072, heartbeat: heartbeat)))
        guard case .connectionTuneOk = try nextMethod().method else { throw Timeout(what: "connection.tune-ok") }
        guard case .connectionOpen = try nextMethod().method else { throw Timeout(what: "connection.open") }
        try send(.connectionOpenOk(ConnectionOpenOk()))
    }
}
