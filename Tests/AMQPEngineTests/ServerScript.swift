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

    mutating func serverSends(_ frame: Frame) throws {
        let time = now
        try drive { $0.receive(frame, now: time, into: &$1) }
    }

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
