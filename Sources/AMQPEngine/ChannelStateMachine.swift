import AMQPWire

/// A synchronous request sent on a channel and waiting for one of the `replies` of its class.
struct PendingRequest {
    var id: RequestID
    var classID: UInt16
    var replies: [UInt16]
}

/// A message whose method arrived and whose header and body frames are being collected.
struct ContentAssembly {
    var message: InboundMessage
    /// The basic.get request this message answers, if any.
    var request: RequestID?
    var bodySize: UInt64 = 0
    var headerSeen = false
    var storage: ByteStorage?
    var received = 0
}

/// One channel's protocol state: opening, open, closing; its queue of requests awaiting replies in
/// order; and the message being assembled from content frames.
struct ChannelStateMachine {
    enum State { case opening, open, closing }

    var state: State = .opening
    var openRequest: RequestID?
    var closeRequest: RequestID?
    var pending: [PendingRequest] = []
    var assembly: ContentAssembly?
    /// False while the broker has stopped this channel's publishing with channel.flow.
    var flowActive = true

    let number: UInt16

    init(number: UInt16, openRequest: RequestID?) {
        self.number = number
        self.openRequest = openRequest
    }

    /// The replies a synchronous request is answered with (same class).
    static func replies(to method: Method) -> [UInt16] {
        switch method {
        case .basicGet: return [BasicGetOk.methodID, BasicGetEmpty.methodID]
        case .exchangeUnbind: return [ExchangeUnbindOk.methodID]
        default: return [method.methodID + 1]
        }
    }

    /// Every request still waiting, failed with `error`, as completion events.
    mutating func failAll(_ error: AMQPError, into out: inout EngineOutput) {
        for id in [openRequest, closeRequest].compactMap({ $0 }) + pending.map(\.id) {
            out.events.append(.completion(id, channel: number, .failure(error)))
        }
        if let request = assembly?.request {
            out.events.append(.completion(request, channel: number, .failure(error)))
        }
        openRequest = nil
        closeRequest = nil
        pending.removeAll()
        assembly = nil
    }
}
