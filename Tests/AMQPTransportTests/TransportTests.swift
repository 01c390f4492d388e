#if canImport(Glibc)
import Glibc
#endif
import Testing
@testable import AMQPEngine
@testable import AMQPTransport
@testable import AMQPWire

/// The transport (I/O thread, write path, event queue, request table) against a scripted peer over
/// a socketpair: no broker, no network.
@Suite struct TransportTests {
    /// A connection over a socketpair, opened through the peer's scripted handshake.
    static func openConnection(_ configure: (inout ConnectionConfiguration) -> Void = { _ in })
        throws -> (Connection, ScriptedPeer) {
        let (client, peer) = try #require(ScriptedPeer.pair())
        var configuration = ConnectionConfiguration()
        configuration.socketFD = client
        configuration.host = "scripted"
        configuration.heartbeat = 0
        configure(&configuration)
        let connection = try #require(Connection(configuration: configuration))
        let id = connection.registerBlockingRequest()
        #expect(connection.open(request: id) == nil)
        try peer.handshake()
        let opened = connection.wait(for: id, timeoutMs: 5000)
        guard case .success = opened else {
            Issue.record("open failed: \(opened)")
            throw ScriptedPeer.Timeout(what: "the open")
        }
        #expect(connection.isOpen)
        return (connection, peer)
    }

    /// Opens a channel, the peer answering; returns its number.
    static func openChannel(_ connection: Connection, _ peer: ScriptedPeer) throws -> UInt16 {
        guard case .success(let started) = connection.request(.openChannel, blocking: true), let number = started.channel else {
            throw ScriptedPeer.Timeout(what: "a channel number")
        }
        let id = started.id
        let (channel, method) = try peer.nextMethod()
        guard case .channelOpen = method else { throw ScriptedPeer.Timeout(what: "channel.open, not \(method)") }
        #expect(channel == number)
        try peer.send(channel: channel, .channelOpenOk(ChannelOpenOk()))
        guard case .success(.channelOpened(let opened)) = connection.wait(for: id, timeoutMs: 5000) else {
            throw ScriptedPeer.Timeout(what: "channel.open-ok")
        }
        #expect(opened == number)
        return number
    }

    static func publish(_ connection: Connection, channel: UInt16, body: [UInt8], timeoutMs: UInt32 = 0)
        -> Result<UInt64, AMQPError> {
        let key = Array("queue".utf8)
        return key.withUnsafeBytes { key in
            body.withUnsafeBytes { body in
                connection.publish(exchange: UnsafeRawBufferPointer(start: nil, count: 0), routingKey: key, mandatory: false,
                                   immediate: false, properties: BasicProperties(), body: body, channel: channel, timeoutMs: timeoutMs)
            }
        }
    }

    /// Takes events until `match` returns true for one (which is returned), or 5 s pass.
    static func waitForEvent(_ connection: Connection, _ match: (EngineEvent) -> Bool) -> EngineEvent? {
        var batch: [EngineEvent] = []
        let deadline = monotonicNow() &+ 5_000_000_000
        while monotonicNow() < deadline {
            _ = connection.takeEvents(into: &batch, limit: 64, timeoutMs: 100)
            if let found = batch.first(where: match) { return found }
        }
        return nil
    }

    @Test func handshakeOverAnAdoptedSocketAndAPublishArrivesFrameByFrame() throws {
        let (connection, peer) = try Self.openConnection()
        defer { connection.shutdown() }
        let channel = try Self.openChannel(connection, peer)
        let body = Array("hello through a socketpair".utf8)
        guard case .success = Self.publish(connection, channel: channel, body: body) else {
            Issue.record("publish failed")
            return
        }
        let (publishChannel, method) = try peer.nextMethod()
        #expect(publishChannel == channel)
        guard case .basicPublish(let publish) = method else { Issue.record("expected basic.publish, got \(method)"); return }
        #expect(publish.routingKey == Bytes("queue"))
        guard case .header(_, let header) = try peer.nextFrame() else { Issue.record("expected a content header"); return }
        #expect(header.bodySize == UInt64(body.count))
        guard case .body(_, let received) = try peer.nextFrame() else { Issue.record("expected a body frame"); return }
        #expect(received.array == body)
    }

    @Test func aSparseCommandIsWrittenWithoutWaitingForTheIOThread() throws {
        let (connection, peer) = try Self.openConnection()
        defer { connection.shutdown() }
        let channel = try Self.openChannel(connection, peer)
        // Sparse commands are written through by the calling thread: the frames are on the socket
        // when the call returns (the I/O thread may be asleep in poll).
        for round in 0..<20 {
            usleep(2_000) // more than the 50 µs that makes a command "sparse"
            let sent = connection.acknowledge(.ack, deliveryTag: UInt64(round + 1), multiple: false, channel: channel)
            #expect(sent == nil)
            var pfd = pollfd(fd: peer.fd, events: Int16(POLLIN), revents: 0)
            #expect(poll(&pfd, 1, 0) == 1, "round \(round): the ack was not on the socket when the call returned")
            let (_, method) = try peer.nextMethod()
            guard case .basicAck(let ack) = method else { Issue.record("expected basic.ack, got \(method)"); return }
            #expect(ack.deliveryTag == UInt64(round + 1))
        }
    }

    @Test func publishingWaitsAtTheOutboundLimitWhileThePeerDoesNotRead() throws {
        let (connection, peer) = try Self.openConnection { $0.outboundLimit = 256 * 1024 }
        defer { connection.shutdown() }
        let channel = try Self.openChannel(connection, peer)
        let body = [UInt8](repeating: 7, count: 64 * 1024)
        // The peer reads nothing: the socket buffers fill, then the outbound buffer reaches its limit.
        var published = 0
        var refusal: AMQPError?
        while published < 10_000 {
            switch Self.publish(connection, channel: channel, body: body) {
            case .success: published += 1
            case .failure(let error): refusal = error
            }
            if refusal != nil { break }
        }
        let error = try #require(refusal, "10,000 publishes of 64 KiB never found the outbound buffer full")
        #expect(error.kind == .wouldBlock)
        // With a timeout the publish waits, then fails with a timeout: nothing is lost or sent half.
        let started = monotonicNow()
        guard case .failure(let timedOut) = Self.publish(connection, channel: channel, body: body, timeoutMs: 200) else {
            Issue.record("a publish at the limit succeeded")
            return
        }
        #expect(timedOut.kind == .timeout)
        #expect(monotonicNow() &- started >= 150_000_000)
        // Once the peer reads, every accepted publish arrives whole and in order.
        var bodies = 0
        var bytes = 0
        while bodies < published {
            let frame = try peer.nextFrame()
            if case .body(_, let chunk) = frame {
                bytes += chunk.count
                if bytes >= (bodies + 1) * body.count { bodies += 1 }
            }
        }
        #expect(bytes == published * body.count)
    }

    @Test func aPeerThatVanishesMidFrameEndsTheConnectionWithConnectionLost() throws {
        let (connection, peer) = try Self.openConnection()
        defer { connection.shutdown() }
        _ = try Self.openChannel(connection, peer)
        // Half of a channel.close frame, then the socket closes.
        var writer = ByteWriter()
        try writer.writeMethodFrame(channel: 1, .channelClose(ChannelClose(replyCode: 404, replyText: "gone", classId: 0, methodId: 0)))
        peer.send(Array(writer.buffer.prefix(writer.buffer.count / 2)))
        peer.closeSocket()
        let closed = Self.waitForEvent(connection) { if case .connectionClosed = $0 { return true } else { return false } }
        guard case .connectionClosed(let error) = closed else {
            Issue.record("no connection-closed event")
            return
        }
        #expect(error.kind == .connectionLost)
        #expect(!connection.isOpen)
    }

    @Test func aBlockingRequestGivesUpAtItsTimeoutAndItsLateReplyReachesNobody() throws {
        let (connection, peer) = try Self.openConnection()
        defer { connection.shutdown() }
        let channel = try Self.openChannel(connection, peer)
        guard case .success(let first) = connection.request(
            .call(.basicQos(BasicQos(prefetchSize: 0, prefetchCount: 10, global: false)), channel: channel, noWait: false),
            blocking: true) else { Issue.record("basic.qos refused"); return }
        let id = first.id
        guard case .basicQos = try peer.nextMethod().method else { Issue.record("expected basic.qos"); return }
        guard case .failure(let error) = connection.wait(for: id, timeoutMs: 100) else {
            Issue.record("the request completed without a reply")
            return
        }
        #expect(error.kind == .timeout)
        // The late reply is dropped: it completes neither a waiter nor an event.
        try peer.send(channel: channel, .basicQosOk(BasicQosOk()))
        guard case .success(let second) = connection.request(
            .call(.basicQos(BasicQos(prefetchSize: 0, prefetchCount: 20, global: false)), channel: channel, noWait: false),
            blocking: true) else { Issue.record("basic.qos refused"); return }
        let next = second.id
        guard case .basicQos = try peer.nextMethod().method else { Issue.record("expected basic.qos"); return }
        try peer.send(channel: channel, .basicQosOk(BasicQosOk()))
        guard case .success = connection.wait(for: next, timeoutMs: 5000) else {
            Issue.record("the second request did not get its own reply")
            return
        }
        var batch: [EngineEvent] = []
        _ = connection.takeEvents(into: &batch, limit: 64, timeoutMs: 0)
        #expect(!batch.contains { if case .completion = $0 { return true } else { return false } })
    }
}

extension TransportTests {
    @Test func aCommandBreakingAProtocolRuleFailsBeforeAnythingIsSent() throws {
        let (connection, peer) = try Self.openConnection()
        defer { connection.shutdown() }
        let channel = try Self.openChannel(connection, peer)
        let consume = BasicConsume(queue: "q", consumerTag: "", noAck: true, nowait: true)
        for blocking in [true, false] {
            guard case .failure(let error) = connection.request(.call(.basicConsume(consume), channel: channel, noWait: true),
                                                                blocking: blocking) else {
                Issue.record("a NOWAIT consume without a tag was accepted")
                return
            }
            #expect(error.kind == .invalidArgument)
        }
        var pfd = pollfd(fd: peer.fd, events: Int16(POLLIN), revents: 0)
        #expect(poll(&pfd, 1, 100) == 0, "something was sent")
    }
}

/// The request table and the event queue as values.
@Suite struct TransportStateTests {
    @Test func requestTableRoutesCompletionsToWaitersTheQueueOrNowhere() {
        var table = RequestTable()
        let blocking = table.allocate(blocking: true)
        let async = table.allocate(blocking: false)
        let abandoned = table.allocate(blocking: true)
        #expect(Set([blocking, async, abandoned]).count == 3)
        #expect(table.hasWaiters)
        #expect(table.take(blocking) == nil) // nothing yet
        #expect(table.route(blocking, .success(.done)) == .waiter)
        #expect(table.route(async, .success(.done)) == .eventQueue)
        table.abandon(abandoned, engineForgot: false)
        #expect(table.route(abandoned, .success(.done)) == .dropped)
        #expect(table.route(abandoned, .success(.done)) == .eventQueue) // dropped once, then unknown
        guard case .success = table.take(blocking) else { Issue.record("the waiter's completion is gone"); return }
        #expect(table.take(blocking) == nil)
        #expect(!table.hasWaiters)
    }

    @Test func eventQueueMovesEventsOutInOrderAndCountsTheirBytes() {
        var queue = EventQueue()
        #expect(queue.isEmpty && queue.bytes == 0)
        for index in 0..<10_000 { queue.append(.confirm(channel: 1, ack: true, deliveryTag: UInt64(index), multiple: false)) }
        #expect(queue.count == 10_000 && queue.bytes == 10_000 * EventQueue.size(of: .unblocked))
        var batch: [EngineEvent] = []
        var seen: [UInt64] = []
        while !queue.isEmpty {
            batch.removeAll()
            queue.take(into: &batch, limit: 999)
            #expect(batch.count <= 999)
            for event in batch { if case .confirm(_, _, let tag, _) = event { seen.append(tag) } }
        }
        #expect(seen == (0..<10_000).map(UInt64.init))
        #expect(queue.bytes == 0)
        queue.append(.unblocked)
        batch.removeAll()
        queue.take(into: &batch, limit: Int.max) // a limit as large as Int.max is fine
        #expect(batch.count == 1 && queue.isEmpty)
    }
}
