@testable import AMQPEngine
@testable import AMQPWire

/// Plays the broker against a ConnectionStateMachine: feeds it frames and decodes what it sends.
struct ServerScript {
    var engine: ConnectionStateMachine
    var now: UInt64 = 1_000_000_000
    var nextRequest: RequestID = 1
    /// Frames the client sent, decoded, oldest first.
    var sent: [Frame] = []
    var events: [EngineEvent] = []
    var socketClosed = false
    private(set) var protocolHeadersSeen = 0

    init(configure: (inout ConnectionConfiguration) -> Void = { _ in }) {
        var configuration = ConnectionConfiguration()
        configure(&configuration)
        engine = ConnectionStateMachine(configuration: configuration)
    }

    mutating func request() -> RequestID {
        defer { nextRequest += 1 }
        return nextRequest
    }

    /// Collects what one engine input produced.
    mutating func absorb(_ out: EngineOutput) throws {
        var bytes = out.outbound.buffer
        // Each connection (the first, and every reconnect) begins with the protocol header.
        if bytes.starts(with: protocolHeader) {
            protocolHeadersSeen += 1
            bytes.removeFirst(protocolHeader.count)
        }
        var parser = FrameParser(frameMax: 1 << 30)
        try parser.append(bytes)
        while let frame = try parser.next() { sent.append(frame) }
        events += out.events
        if out.closeSocket { socketClosed = true }
    }

    mutating func drive(_ body: (inout ConnectionStateMachine, inout EngineOutput) -> Void) throws {
        var out = EngineOutput()
        body(&engine, &out)
        try absorb(out)
    }

    /// The broker sends `frame`: it is encoded, cut from the bytes by a FrameParser and handed to
    /// the engine undecoded, as the transport's read loop does (a decoding error closes the
    /// connection through `protocolError`, as there).
    mutating func serverSends(_ frame: Frame) throws {
        var writer = ByteWriter()
        switch frame {
        case .method(let channel, let method): try writer.writeMethodFrame(channel: channel, method)
        case .header(let channel, let header): try writer.writeHeaderFrame(channel: channel, header)
        case .body(let channel, let body): body.withUnsafeBytes { writer.writeBodyFrame(channel: channel, $0) }
        case .heartbeat: writer.writeHeartbeatFrame()
        }
        var parser = FrameParser(frameMax: 1 << 30)
        try parser.append(writer.buffer)
        guard let cut = try parser.nextPayload() else { throw ScriptError.frameNotCut }
        let time = now
        try drive { engine, out in
            do {
                try engine.receive(cut, now: time, into: &out)
            } catch {
                engine.protocolError(error as? WireError ?? .allocationFailed(size: 0), into: &out)
            }
        }
    }

    enum ScriptError: Error { case frameNotCut }

    mutating func serverSends(channel: UInt16 = 0, _ method: Method) throws {
        try serverSends(.method(channel: channel, method))
    }

    /// Takes the frames sent since the last call.
    mutating func takeSent() -> [Frame] {
        defer { sent.removeAll() }
        return sent
    }

    mutating func takeEvents() -> [EngineEvent] {
        defer { events.removeAll() }
        return events
    }

    /// Runs the handshake as RabbitMQ does and returns the open request's id.
    @discardableResult
    mutating func open(tune: ConnectionTune = ConnectionTune(channelMax: 2047, frameMax: 131_072, heartbeat: 60)) throws -> RequestID {
        let id = request()
        let time = now
        try drive { $0.start(request: id, now: time, into: &$1) }
        try serverSends(.connectionStart(ConnectionStart(serverProperties: ["product": .longString("RabbitMQ")], mechanisms: "AMQPLAIN PLAIN")))
        try serverSends(.connectionTune(tune))
        try serverSends(.connectionOpenOk(ConnectionOpenOk()))
        _ = takeSent()
        _ = takeEvents()
        return id
    }

    /// Opens a channel and returns its number.
    mutating func openChannel() throws -> UInt16 {
        let id = request()
        var number: UInt16 = 0
        try drive { engine, out in
            if case .success(let n) = engine.openChannel(request: id, into: &out) { number = n }
        }
        try serverSends(channel: number, .channelOpenOk(ChannelOpenOk()))
        _ = takeSent()
        _ = takeEvents()
        return number
    }
}

extension EngineEvent {
    var completionResult: (RequestID, Result<Reply, AMQPError>)? {
        if case .completion(let id, _, let result) = self { return (id, result) }
        return nil
    }

    var isConnectionClosed: Bool {
        if case .connectionClosed = self { return true }
        return false
    }
}
