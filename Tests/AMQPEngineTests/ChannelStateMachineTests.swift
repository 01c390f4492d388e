import Testing
@testable import AMQPEngine
@testable import AMQPWire

/// A channel's state machine and its content assembler driven directly with what the broker
/// sends, the actions they return checked (the connection-level scripts are in ChannelTests).
@Suite struct ChannelStateMachineTests {
    private func openChannel(request: RequestID = 1) -> ChannelStateMachine {
        var channel = ChannelStateMachine(number: 3, openRequest: request)
        _ = channel.receive(.channelOpenOk(ChannelOpenOk()))
        return channel
    }

    @Test func openOkOpensOnceAndNamesItsRequest() {
        var channel = ChannelStateMachine(number: 3, openRequest: 9)
        guard case .opened(let request, let abandoned) = channel.receive(.channelOpenOk(ChannelOpenOk())) else {
            Issue.record("no opened action"); return
        }
        #expect(request == 9 && !abandoned && channel.state == .open && channel.openRequest == nil)
        guard case .unexpected = channel.receive(.channelOpenOk(ChannelOpenOk())) else { Issue.record("a second open-ok"); return }
        #expect(channel.generation == 9)
    }

    @Test func anAbandonedOpenAsksToBeClosedAgain() {
        var channel = ChannelStateMachine(number: 3, openRequest: 9)
        channel.openRequest = nil
        channel.openAbandoned = true
        guard case .opened(nil, true) = channel.receive(.channelOpenOk(ChannelOpenOk())) else { Issue.record("not abandoned"); return }
        #expect(!channel.openAbandoned)
    }

    @Test func repliesCompleteTheirRequestsInOrderAndOthersAreUnexpected() {
        var channel = openChannel()
        channel.pending.append(PendingRequest(id: 5, awaiting: .queueDeclare(QueueDeclare(queue: "q"))))
        channel.pending.append(PendingRequest(id: 6, awaiting: .basicQos(BasicQos(prefetchCount: 1))))
        guard case .unexpected = channel.receive(.basicQosOk(BasicQosOk())) else { Issue.record("qos-ok overtook a declare"); return }
        guard case .replied(let first, .queueDeclared(let name, 2, 0)) =
                channel.receive(.queueDeclareOk(QueueDeclareOk(queue: "q", messageCount: 2, consumerCount: 0))) else {
            Issue.record("declare-ok"); return
        }
        #expect(first.id == 5 && name == "q")
        guard case .replied(let second, .done) = channel.receive(.basicQosOk(BasicQosOk())) else { Issue.record("qos-ok"); return }
        #expect(second.id == 6 && channel.pending.isEmpty)
    }

    @Test func whileClosingOnlyClosesAndReturnsCount() {
        var channel = openChannel()
        channel.state = .closing
        channel.closeRequest = 4
        channel.pending.append(PendingRequest(id: 5, awaiting: .basicQos(BasicQos(prefetchCount: 1))))
        guard case .none = channel.receive(.basicQosOk(BasicQosOk())) else { Issue.record("qos-ok while closing"); return }
        guard case .returnBegins = channel.receive(.basicReturn(BasicReturn(replyCode: 312, exchange: "", routingKey: "k"))) else {
            Issue.record("a return while closing is lost"); return
        }
        guard case .closeConfirmed(4) = channel.receive(.channelCloseOk(ChannelCloseOk())) else { Issue.record("close-ok"); return }
        #expect(channel.closeRequest == nil)
    }

    @Test func theBrokersCloseCarriesItsReply() {
        var channel = openChannel()
        guard case .closedByBroker(let error) = channel.receive(.channelClose(ChannelClose(replyCode: 406, replyText: "PRECONDITION_FAILED",
                                                                                          classId: 50, methodId: 10))) else {
            Issue.record("no close"); return
        }
        #expect(error.replyCode == 406 && error.channel == 3)
    }

    @Test func theCancelOkOfAnAbandonedConsumeEndsItQuietly() {
        var channel = openChannel()
        channel.abandonedConsumers["ctag"] = (noAck: false, request: 8)
        var cancel = PendingRequest(id: 0, awaiting: .basicCancel(BasicCancel(consumerTag: "ctag")))
        cancel.abandoned = true
        channel.pending.append(cancel)
        guard case .none = channel.receive(.basicCancelOk(BasicCancelOk(consumerTag: "ctag"))) else { Issue.record("cancel-ok"); return }
        #expect(channel.abandonedConsumers.isEmpty && channel.pending.isEmpty)
    }

    @Test func theAssemblerTakesABodyDrippedByteByByte() {
        var channel = openChannel()
        let began = channel.begin(ContentAssembler(message: InboundMessage(kind: .delivery, channel: 3)))
        let second = channel.begin(ContentAssembler(message: InboundMessage(kind: .delivery, channel: 3)))
        #expect(began && !second) // one message at a time
        let body: [UInt8] = Array("hello, world".utf8)
        guard case .incomplete = channel.receiveHeader(ContentHeader(bodySize: UInt64(body.count), encodedProperties: ContentHeader.noProperties), maxSize: 1 << 20)
        else { Issue.record("header"); return }
        for (index, byte) in body.enumerated() {
            let outcome = channel.receiveBody(Bytes([byte]))
            if index < body.count - 1 {
                guard case .incomplete = outcome else { Issue.record("complete after \(index + 1) bytes"); return }
            } else {
                guard case .complete(let done) = outcome else { Issue.record("not complete"); return }
                #expect(done.message.body.array == body)
            }
        }
        #expect(channel.assembly == nil)
    }

    @Test func aBodyInOneFrameIsNotCopied() throws {
        var assembler = ContentAssembler(message: InboundMessage(kind: .delivery, channel: 3))
        let frame = Bytes(Array("one frame".utf8))
        guard case .incomplete = assembler.header(ContentHeader(bodySize: UInt64(frame.count), encodedProperties: ContentHeader.noProperties),
                                                  maxSize: 1 << 20, channel: 3) else { Issue.record("header"); return }
        guard case .complete = assembler.body(frame, channel: 3) else { Issue.record("body"); return }
        #expect(assembler.message.body.baseAddress == frame.baseAddress)
    }

    @Test func contentOutOfOrderOrTooLargeIsAViolation() {
        var assembler = ContentAssembler(message: InboundMessage(kind: .delivery, channel: 3))
        guard case .violation(.unexpectedFrame, _, _) = assembler.body("x", channel: 3) else { Issue.record("body first"); return }
        guard case .violation(.messageTooLarge, _, _) =
                assembler.header(ContentHeader(bodySize: 11, encodedProperties: ContentHeader.noProperties), maxSize: 10, channel: 3) else {
            Issue.record("size"); return
        }
        guard case .violation(.messageTooLarge, _, _) =
                assembler.header(ContentHeader(bodySize: .max, encodedProperties: ContentHeader.noProperties), maxSize: .max, channel: 3) else {
            Issue.record("a size past Int.max"); return
        }
        guard case .incomplete = assembler.header(ContentHeader(bodySize: 2, encodedProperties: ContentHeader.noProperties), maxSize: 10, channel: 3) else {
            Issue.record("header"); return
        }
        guard case .violation(.unexpectedFrame, _, _) =
                assembler.header(ContentHeader(bodySize: 2, encodedProperties: ContentHeader.noProperties), maxSize: 10, channel: 3) else {
            Issue.record("two headers"); return
        }
        guard case .violation(.protocolViolation, _, _) = assembler.body("xyz", channel: 3) else { Issue.record("overflow"); return }
        guard case .complete = assembler.body("xy", channel: 3) else { Issue.record("body"); return }
    }

    @Test func propertiesAreDecodedIntoTheMessageAndBadOnesAreAViolation() throws {
        var assembler = ContentAssembler(message: InboundMessage(kind: .delivery, channel: 3))
        let header = try ContentHeader(bodySize: 1, properties: BasicProperties(contentType: "text/plain", deliveryMode: 2))
        guard case .incomplete = assembler.header(header, maxSize: 10, channel: 3) else { Issue.record("header"); return }
        #expect(assembler.message.properties.contentType == "text/plain" && assembler.message.properties.deliveryMode == 2)
        // The content-type flag without its value, and an unknown flag bit.
        for bad: [UInt8] in [[0x80, 0x00], [0x00, 0x01]] {
            var fresh = ContentAssembler(message: InboundMessage(kind: .delivery, channel: 3))
            guard case .violation(.protocolViolation, .frameError, _) =
                    fresh.header(ContentHeader(bodySize: 1, encodedProperties: Bytes(bad)), maxSize: 10, channel: 3) else {
                Issue.record("bad properties \(bad) accepted"); return
            }
        }
    }

    @Test func aRawChannelLeavesContentUninterpreted() {
        var channel = openChannel()
        channel.raw = true
        guard case .raw = channel.receiveHeader(ContentHeader(bodySize: 1, encodedProperties: ContentHeader.noProperties), maxSize: 10) else {
            Issue.record("header"); return
        }
        guard case .raw = channel.receiveBody("x") else { Issue.record("body"); return }
    }
}
