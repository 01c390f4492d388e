import AMQPEngine
import AMQPWire

/// The fuzz target over the frame parser and the inbound path of the connection state machine.
/// Built into a libFuzzer binary by scripts/fuzz and replayed over Tests/FuzzRegressions by
/// `swift test`; not part of the library. Its `fatalError`s are the fuzzer's oracles: a crash is
/// how libFuzzer records a finding, and none of this code is linked into libswiftamqp.
///
/// An input is three control bytes, then the bytes "the broker sends":
///
///     byte 0   bits 0-2: how far the scripted handshake goes before the stream (`Stage`)
///              bit 3:    1 = frame parser only (with the re-encoding check), 0 = parser + engine
///              bits 4-7: how the stream is cut into reads (0: one read; else pseudo-random sizes)
///     byte 1   frame_max the scripted broker proposes in connection.tune: 4096 + 512 * byte 1
///     byte 2   bits 0-3: heartbeat seconds; bits 4-5: the client's max_message_size
///     rest     the inbound byte stream
///
/// Nothing reachable from the stream may trap or touch bad memory (the sanitizers and the Swift
/// runtime report those as crashes). Besides, the harness traps on purpose when a promise breaks:
/// a frame that decoded must re-encode, decode again and re-encode to the same bytes; and every
/// byte the engine writes must parse as frames.
public enum FuzzHarness {
    public static let controlBytes = 3

    /// How far the scripted broker takes the connection before the fuzzed stream starts.
    public enum Stage: UInt8, CaseIterable, Sendable {
        /// start() sent the protocol header; the stream must begin with connection.start.
        case awaitingStart = 0
        /// connection.start answered; the stream must begin with connection.tune.
        case awaitingTune = 1
        /// tune-ok and open sent; the stream must begin with connection.open-ok.
        case awaitingOpenOk = 2
        /// The connection is open, no channel.
        case open = 3
        /// Channel 1 opened.
        case channel = 4
        /// Channel 1 with a consume, a get and a queue.declare awaiting replies, confirm mode with
        /// three unconfirmed publishes and a waiter; channel 2 raw; channel 3 opening.
        case busy = 5
        /// As `busy`, then the application closed the connection (awaiting close-ok).
        case closing = 6
        /// As `busy`, then the application closed channel 1 (awaiting channel.close-ok).
        case channelClosing = 7
    }

    public static func run(_ data: UnsafeRawBufferPointer) {
        guard data.count >= controlBytes else { return }
        let control0 = data[0], control1 = data[1], control2 = data[2]
        let stream = UnsafeRawBufferPointer(rebasing: data[controlBytes...])
        let reads = ReadSplitter(seed: control0 >> 4, count: stream.count)
        if control0 & 8 != 0 {
            parserOnly(stream, frameMax: 4096 + 512 * UInt32(control1), reads: reads)
        } else {
            let stage = Stage(rawValue: control0 & 7) ?? .awaitingStart
            engine(stream, stage: stage, tuneFrameMax: 4096 + 512 * UInt32(control1),
                   heartbeat: UInt16(control2 & 15), messageLimit: control2 >> 4 & 3, reads: reads)
        }
    }

    // MARK: - Frame parser alone

    static func parserOnly(_ stream: UnsafeRawBufferPointer, frameMax: UInt32, reads: ReadSplitter) {
        var parser = FrameParser(frameMax: frameMax, chunkSize: 4096)
        var reads = reads
        var offset = 0
        while offset < stream.count {
            let n = reads.next(remaining: stream.count - offset)
            guard feed(&parser, UnsafeRawBufferPointer(rebasing: stream[offset..<offset + n])) else { return }
            offset += n
            while true {
                let cut: CutFrame?
                do { cut = try parser.nextPayload() } catch { return } // a typed error: the connection would close
                guard let cut else { break }
                let frame: Frame
                do {
                    frame = try Frame.decode(type: cut.type, channel: cut.channel, payload: cut.payload)
                } catch {
                    checkFastPaths(cut, agreeWith: nil)
                    return
                }
                checkFastPaths(cut, agreeWith: frame)
                checkReencoding(frame)
            }
        }
    }

    /// Copies `bytes` into the parser the way the transport does (into its writable space).
    static func feed(_ parser: inout FrameParser, _ bytes: UnsafeRawBufferPointer) -> Bool {
        var done = 0
        while done < bytes.count {
            do {
                done += try parser.withWritableSpace(minimum: 1024) { space in
                    let n = min(space.count, bytes.count - done)
                    if n > 0, let dst = space.baseAddress, let src = bytes.baseAddress {
                        dst.copyMemory(from: src + done, byteCount: n)
                    }
                    return n
                }
            } catch {
                return false
            }
        }
        return true
    }

    /// Encodes a frame the way we would send it; nil when it holds a value we refuse to send
    /// (a uint64 'L' table value above Int64.max, which is not RabbitMQ's to receive).
    static func encode(_ frame: Frame) -> [UInt8]? {
        var writer = ByteWriter()
        do {
            switch frame {
            case .method(let channel, let method):
                try writer.writeMethodFrame(channel: channel, method)
            case .header(let channel, let header):
                try writer.writeFrame(type: AMQPConstants.frameHeader, channel: channel) { header.encode(into: &$0) }
            case .body(let channel, let body):
                try writer.writeFrame(type: AMQPConstants.frameBody, channel: channel) { $0.writeBytes(body) }
            case .heartbeat:
                writer.writeHeartbeatFrame()
            }
        } catch WireError.valueTooLarge(context: "uint64 field value") {
            return nil
        } catch {
            fatalError("a decoded frame did not re-encode: \(error) (\(frame))")
        }
        return writer.buffer
    }

    /// The engine's delivery path decodes basic.deliver and content headers without `Frame.decode`:
    /// it must accept exactly what `Frame.decode` accepts (`frame`, nil when that threw) and give
    /// the same values.
    static func checkFastPaths(_ cut: CutFrame, agreeWith frame: Frame?) {
        switch cut.type {
        case AMQPConstants.frameMethod:
            let isDeliver = Frame.isDeliver(payload: cut.payload)
            if case .method(_, let method)? = frame {
                let named = method.classID == BasicDeliver.classID && method.methodID == BasicDeliver.methodID
                guard named == isDeliver else { fatalError("isDeliver says \(isDeliver) for \(method.name)") }
            }
            guard isDeliver else { return }
            var consumerTag = Bytes(), exchange = Bytes(), routingKey = Bytes()
            let fast = Result {
                try Frame.decodeDeliver(payload: cut.payload, consumerTag: &consumerTag, exchange: &exchange, routingKey: &routingKey)
            }
            switch (frame, fast) {
            case (.method(_, .basicDeliver(let deliver))?, .success(let fields))
                where deliver == BasicDeliver(consumerTag: consumerTag, deliveryTag: fields.deliveryTag, redelivered: fields.redelivered,
                                              exchange: exchange, routingKey: routingKey):
                return
            case (nil, .failure): return
            default: fatalError("basic.deliver's fast decoding disagrees with Frame.decode: \(String(describing: frame)) against \(fast)")
            }
        case AMQPConstants.frameHeader:
            let fast = Result { try Frame.decodeHeader(payload: cut.payload) }
            switch (frame, fast) {
            case (.header(_, let header)?, .success(let decoded)) where decoded == header: return
            case (nil, .failure): return
            default: fatalError("the content header's fast decoding disagrees with Frame.decode: \(String(describing: frame)) against \(fast)")
            }
        default:
            return
        }
    }

    /// decode → encode → decode → encode must give the same bytes twice. (The first encoding may
    /// differ from the input: a boolean octet 2 becomes 1, a uint64 'L' becomes 'l'.)
    static func checkReencoding(_ frame: Frame) {
        guard let first = encode(frame) else { return }
        var parser = FrameParser(frameMax: UInt32(clamping: first.count + 8))
        let again: Frame?
        do {
            try parser.append(first)
            again = try parser.next()
        } catch {
            fatalError("our own encoding of a decoded frame does not decode: \(error)")
        }
        guard let again, parser.bufferedCount == 0 else { fatalError("our own encoding is not exactly one frame") }
        guard let second = encode(again), second == first else {
            fatalError("re-encoding is not stable: \(frame)")
        }
        if case .header(_, let header) = frame { checkPropertiesReencoding(header) }
    }

    /// A header's properties travel encoded (the engine decodes them into the message), so their
    /// decoder gets the same oracle: decode → encode → decode → encode gives the same bytes twice.
    static func checkPropertiesReencoding(_ header: ContentHeader) {
        func encoded(_ properties: BasicProperties) -> Bytes? {
            do {
                return try ContentHeader(bodySize: header.bodySize, properties: properties).encodedProperties
            } catch WireError.valueTooLarge(context: "uint64 field value") {
                return nil // as in `encode`: a value we refuse to send
            } catch {
                fatalError("decoded properties did not re-encode: \(error)")
            }
        }
        guard let decoded = try? header.decodeProperties(), let first = encoded(decoded) else { return }
        let again: BasicProperties
        do {
            again = try ContentHeader(bodySize: header.bodySize, encodedProperties: first).decodeProperties()
        } catch {
            fatalError("our own encoding of decoded properties does not decode: \(error)")
        }
        guard encoded(again) == first else { fatalError("re-encoding of properties is not stable: \(decoded)") }
    }

    // MARK: - Parser and connection state machine

    static func engine(_ stream: UnsafeRawBufferPointer, stage: Stage, tuneFrameMax: UInt32, heartbeat: UInt16,
                       messageLimit: UInt8, reads: ReadSplitter) {
        var configuration = ConnectionConfiguration()
        configuration.heartbeat = 30
        configuration.maxMessageSize = [64 * 1024, 1 << 20, 128 << 20, 1][Int(messageLimit & 3)]
        var driver = Driver(configuration: configuration)
        driver.script(stage, tuneFrameMax: tuneFrameMax, heartbeat: heartbeat)
        var reads = reads
        var offset = 0
        while offset < stream.count && !driver.socketClosed {
            let n = reads.next(remaining: stream.count - offset)
            driver.inbound(UnsafeRawBufferPointer(rebasing: stream[offset..<offset + n]))
            offset += n
        }
        // Time passes: timers (heartbeat loss, handshake and close deadlines) fire.
        if !driver.socketClosed {
            driver.tick(after: 10_000_000)
            driver.tick(after: 3_600_000_000_000)
        }
        if !driver.socketClosed {
            driver.apply { $0.connectionLost(AMQPError(.connectionLost, "fuzz input ended"), into: &$1) }
        }
    }
}

/// Cuts a stream into read sizes: one read for seed 0, else sizes from a small generator.
struct ReadSplitter {
    private var state: UInt32
    private let whole: Bool

    init(seed: UInt8, count: Int) {
        whole = seed == 0
        state = UInt32(seed) &* 2_654_435_761 | 1
    }

    mutating func next(remaining: Int) -> Int {
        if whole { return remaining }
        state ^= state << 13
        state ^= state >> 17
        state ^= state << 5
        let size: Int
        switch state % 4 {
        case 0: size = 1
        case 1: size = Int((state >> 8) % 8) + 1
        case 2: size = Int((state >> 8) % 64) + 1
        default: size = Int((state >> 8) % 4096) + 1
        }
        return min(size, remaining)
    }
}

/// Plays the application and the transport around a ConnectionStateMachine, checking that what
/// the engine writes always parses.
struct Driver {
    var engine: ConnectionStateMachine
    var parser: FrameParser
    var now: UInt64 = 1_000_000_000
    var nextRequest: RequestID = 1
    var socketClosed = false
    private var sentProtocolHeader = false

    init(configuration: ConnectionConfiguration) {
        engine = ConnectionStateMachine(configuration: configuration)
        parser = FrameParser(frameMax: engine.initialFrameMax)
    }

    mutating func request() -> RequestID {
        defer { nextRequest += 1 }
        return nextRequest
    }

    /// Runs one engine input and carries out its output as the transport would.
    mutating func apply(_ body: (inout ConnectionStateMachine, inout EngineOutput) -> Void) {
        var out = EngineOutput()
        body(&engine, &out)
        checkOutbound(out.outbound.buffer)
        if let frameMax = out.newFrameMax { parser.frameMax = frameMax }
        if out.closeSocket { socketClosed = true }
    }

    /// Every byte the engine writes must be frames we can parse (after the protocol header).
    private mutating func checkOutbound(_ bytes: [UInt8]) {
        guard !bytes.isEmpty else { return }
        var bytes = bytes[...]
        if !sentProtocolHeader, bytes.starts(with: protocolHeader) {
            sentProtocolHeader = true
            bytes = bytes.dropFirst(protocolHeader.count)
        }
        var check = FrameParser(frameMax: UInt32.max)
        do {
            try check.append(Array(bytes))
            while try check.next() != nil {}
        } catch {
            fatalError("the engine wrote bytes that do not parse: \(error)")
        }
        guard check.bufferedCount == 0 else { fatalError("the engine wrote a partial frame") }
    }

    /// A frame from the scripted broker (not fuzzed).
    mutating func serverSends(_ frame: Frame) {
        guard !socketClosed else { return }
        let time = now
        apply { $0.receive(frame, now: time, into: &$1) }
    }

    mutating func serverSends(channel: UInt16 = 0, _ method: Method) {
        serverSends(.method(channel: channel, method))
    }

    mutating func tick(after ns: UInt64) {
        now &+= ns
        let time = now
        apply { $0.tick(now: time, into: &$1) }
    }

    /// Fuzzed bytes arrive: parse what is complete, hand the frames to the engine, as the
    /// transport's read loop does (a parse error closes the connection with a reason).
    mutating func inbound(_ bytes: UnsafeRawBufferPointer) {
        now &+= 1_000_000
        let time = now
        var frames: [CutFrame] = []
        var parseError: WireError?
        if FuzzHarness.feed(&parser, bytes) {
            do {
                while let frame = try parser.nextPayload() { frames.append(frame) }
            } catch {
                parseError = error as? WireError ?? .allocationFailed(size: 0)
            }
        } else {
            parseError = .allocationFailed(size: bytes.count)
        }
        apply { engine, out in
            engine.noteInbound(now: time)
            do {
                for frame in frames {
                    try engine.receive(frame, now: time, into: &out)
                }
            } catch {
                parseError = error as? WireError ?? .allocationFailed(size: 0)
            }
            if let parseError { engine.protocolError(parseError, into: &out) }
        }
    }

    /// Takes the connection to `stage` as RabbitMQ would.
    mutating func script(_ stage: FuzzHarness.Stage, tuneFrameMax: UInt32, heartbeat: UInt16) {
        let open = request()
        let time = now
        apply { $0.start(request: open, now: time, into: &$1) }
        guard stage.rawValue >= FuzzHarness.Stage.awaitingTune.rawValue else { return }
        serverSends(.connectionStart(ConnectionStart(
            serverProperties: FuzzSeeds.serverProperties, mechanisms: "AMQPLAIN PLAIN")))
        guard stage.rawValue >= FuzzHarness.Stage.awaitingOpenOk.rawValue else { return }
        serverSends(.connectionTune(ConnectionTune(channelMax: 2047, frameMax: tuneFrameMax, heartbeat: heartbeat)))
        guard stage.rawValue >= FuzzHarness.Stage.open.rawValue else { return }
        serverSends(.connectionOpenOk(ConnectionOpenOk()))
        guard stage.rawValue >= FuzzHarness.Stage.channel.rawValue else { return }
        openChannel()
        guard stage.rawValue >= FuzzHarness.Stage.busy.rawValue else { return }

        // Channel 1: a consumer, confirm mode with three publishes, and RPCs awaiting replies.
        call(.basicConsume(BasicConsume(queue: "q", consumerTag: "", arguments: FieldTable())), channel: 1)
        serverSends(channel: 1, .basicConsumeOk(BasicConsumeOk(consumerTag: "amq.ctag-1")))
        call(.confirmSelect(ConfirmSelect()), channel: 1)
        serverSends(channel: 1, .confirmSelectOk(ConfirmSelectOk()))
        for i in 0..<3 {
            let body: [UInt8] = Array(repeating: UInt8(i), count: 10 + i * 5000)
            apply { engine, out in
                body.withUnsafeBytes { raw in
                    _ = engine.publish(BasicPublish(exchange: "", routingKey: "q"), properties: BasicProperties(deliveryMode: 2),
                                       body: raw, channel: 1, into: &out)
                }
            }
        }
        let wait = request()
        apply { $0.waitForConfirms(channel: 1, request: wait, into: &$1) }
        call(.basicGet(BasicGet(queue: "q")), channel: 1)
        call(.queueDeclare(QueueDeclare(queue: "", exclusive: true, arguments: FieldTable())), channel: 1)
        // Channel 2 in raw mode; channel 3 still opening.
        openChannel()
        apply { engine, _ in _ = engine.setRaw(2, true) }
        let opening = request()
        apply { engine, out in _ = engine.openChannel(request: opening, into: &out) }

        switch stage {
        case .closing:
            let close = request()
            let time = now
            apply { $0.close(request: close, timeoutMs: 5_000, now: time, into: &$1) }
        case .channelClosing:
            let close = request()
            apply { $0.closeChannel(1, request: close, into: &$1) }
        default:
            break
        }
    }

    private mutating func openChannel() {
        let id = request()
        var number: UInt16 = 0
        apply { engine, out in
            if case .success(let n) = engine.openChannel(request: id, into: &out) { number = n }
        }
        if number != 0 { serverSends(channel: number, .channelOpenOk(ChannelOpenOk())) }
    }

    private mutating func call(_ method: Method, channel: UInt16) {
        let id = request()
        apply { $0.call(method, channel: channel, noWait: false, request: id, into: &$1) }
    }
}
