import AMQPWire

/// Methods on channel 0: the handshake (through `Handshake`), the broker's close, close-ok of
/// ours, blocked/unblocked and update-secret-ok.
extension ConnectionStateMachine {
    mutating func receiveConnectionMethod(_ method: Method, into out: inout EngineOutput) {
        switch (state, method) {
        case (.awaitingStart, .connectionStart(let start)):
            serverProperties = start.serverProperties
            switch Handshake.startOk(answering: start, configuration) {
            case .success(let startOk):
                state = .awaitingTune
                send(channel: 0, .connectionStartOk(startOk), into: &out)
            case .failure(let refusal):
                violation(refusal.kind, code: refusal.code, refusal.text, into: &out)
            }

        case (.awaitingTune, .connectionTune(let tune)):
            let limits: Handshake.Limits
            switch Handshake.limits(answering: tune, configuration, initialFrameMax: initialFrameMax) {
            case .success(let settled): limits = settled
            case .failure(let refusal):
                violation(refusal.kind, code: refusal.code, refusal.text, into: &out)
                return
            }
            channelMax = limits.channelMax
            frameMax = limits.frameMax
            heartbeat = limits.heartbeat
            pulse.start(seconds: heartbeat)
            out.newFrameMax = frameMax
            send(channel: 0, .connectionTuneOk(ConnectionTuneOk(channelMax: channelMax, frameMax: frameMax, heartbeat: heartbeat)), into: &out)
            send(channel: 0, .connectionOpen(ConnectionOpen(virtualHost: Bytes(configuration.virtualHost))), into: &out)
            state = .awaitingOpenOk

        case (.awaitingOpenOk, .connectionOpenOk):
            state = .open
            deadline = nil
            handshakesCompleted += 1
            if recoveryActive {
                out.events.append(.log(.info, "reconnected to \(configuration.host) (heartbeat \(heartbeat) s); restoring channels and topology"))
                beginRestore(into: &out)
                return
            }
            out.events.append(.log(.info, "connected to \(configuration.host):\(configuration.port) vhost \(configuration.virtualHost) (heartbeat \(heartbeat) s, frame_max \(frameMax), channel_max \(channelMax))"))
            if let request = openRequest {
                openRequest = nil
                out.events.append(.completion(request, channel: 0, .success(.done)))
            }

        case (_, .connectionClose(let close)):
            send(channel: 0, .connectionCloseOk(ConnectionCloseOk()), into: &out)
            let duringLogin = state == .awaitingTune || state == .awaitingOpenOk
            let kind: ErrorKind = duringLogin && (close.replyCode == 403 || close.replyCode == 530) ? .authentication : .connectionClosed
            end(AMQPError(brokerClose: kind, replyCode: close.replyCode, replyText: close.replyText,
                          classID: close.classId, methodID: close.methodId, channel: 0), into: &out)

        case (.closing, .connectionCloseOk):
            if let request = closeRequest {
                closeRequest = nil
                out.events.append(.completion(request, channel: 0, .success(.done)))
            }
            finish(AMQPError(.closedByApplication, "connection closed by the application"), into: &out)

        case (.open, .connectionBlocked(let blockedMethod)), (.closing, .connectionBlocked(let blockedMethod)):
            blocked = true
            out.events.append(.log(.warning, "connection blocked by the broker: \(blockedMethod.reason.lossyString)"))
            out.events.append(.blocked(reason: blockedMethod.reason))

        case (.open, .connectionUpdateSecretOk):
            guard !updateSecretRequests.isEmpty else { fallthrough }
            let request = updateSecretRequests.removeFirst()
            if abandonedSecretUpdates.remove(request) == nil {
                out.events.append(.completion(request, channel: 0, .success(.done)))
            }

        case (.open, .connectionUnblocked), (.closing, .connectionUnblocked):
            blocked = false
            out.events.append(.log(.info, "connection unblocked"))
            out.events.append(.unblocked)

        case (.closing, _):
            return // after our close, everything but close/close-ok is discarded

        default:
            violation(.unexpectedFrame, code: .unexpectedFrame, "unexpected \(method.name) in state \(state)", into: &out)
        }
    }
}
