import AMQPWire

/// Automatic recovery: after an unexpected loss the engine keeps its channels and records, the
/// transport reconnects (`resume`), and the engine restores channels, their settings, exchanges,
/// queues, bindings and consumers one step at a time before the application may go on.
extension ConnectionStateMachine {
    /// Fails what was in flight, keeps what can be restored, and asks for the socket to close; the
    /// transport then reconnects and calls `resume`.
    mutating func enterRecovery(_ error: AMQPError, into out: inout EngineOutput) {
        let first = !recoveryActive
        recoveryActive = true
        state = .recovering
        deadline = nil
        blocked = false
        currentStep = nil
        recoverySteps.removeAll()
        failSecretUpdates(error, into: &out)
        for number in channels.numbers {
            guard var channel = channels[number] else { continue }
            if channel.state == .closing {
                // The application was closing it anyway: that close has succeeded.
                if let request = channel.closeRequest { out.events.append(.completion(request, channel: number, .success(.done))) }
                channel.closeRequest = nil
                channel.failAll(error, into: &out)
                channels[number] = nil
                topology.channelEnded(number)
                continue
            }
            if first {
                channel.failAll(error, into: &out)
                channel.confirms?.resetAfterLoss()
            } else {
                channel.pending.removeAll() // recovery's own steps only
                channel.assembly = nil
            }
            // Also after a loss during recovery: consumers restored on the connection just lost
            // may have delivered tags the application saw, and the next connection's tags must
            // start above them (and acks of them must be refused as stale).
            channel.deliveryTagOffset = channel.highestDeliveryTag
            // Consumers of abandoned consumes end with the connection (recovery does not restore
            // them): no delivery for them can come, so none needs a lookup.
            channel.abandonedConsumers.removeAll()
            channel.state = .opening
            channel.flowActive = true
            channels[number] = channel
        }
        out.closeSocket = true
        if first {
            out.events.append(.log(.warning, "connection lost (\(error)); recovering"))
            out.events.append(.recoveryStarted(error))
        } else {
            out.events.append(.log(.warning, "recovery attempt failed: \(error)"))
        }
    }

    /// The transport connected again: start a fresh handshake.
    public mutating func resume(now: UInt64, into out: inout EngineOutput) {
        guard state == .recovering else { return }
        state = .awaitingStart
        pulse.reset(now: now)
        deadline = handshakeDeadline(now)
        out.timerChanged = true
        out.outbound.buffer.append(contentsOf: protocolHeader)
    }

    /// The transport ran out of attempts.
    public mutating func recoveryGaveUp(_ error: AMQPError, into out: inout EngineOutput) {
        guard recoveryActive else { return }
        recoveryActive = false
        out.events.append(.log(.error, "recovery gave up: \(error)"))
        out.events.append(.recoveryFailed(error))
        finish(error, into: &out)
    }

    /// The reconnected connection is open: queue the restoration steps and run the first.
    mutating func beginRestore(into out: inout EngineOutput) {
        var steps: [RecoveryStep] = []
        let numbers = channels.numbers
        for number in numbers {
            steps.append(.openChannel(number))
            steps += settingsSteps(number)
        }
        if numbers.contains(where: { channels[$0]?.raw == false }) {
            steps += topology.exchanges.map { .declareExchange($0) }
            steps += topology.queues.map { .declareQueue($0) }
            steps += topology.exchangeBindings.map { .bindExchange($0) }
            steps += topology.queueBindings.map { .bindQueue($0) }
        }
        steps += topology.consumers.filter { channels[$0.channel] != nil }.map { .consume($0) }
        recoverySteps = steps
        recoveryFailures = 0
        runNextStep(into: &out)
    }

    private func settingsSteps(_ number: UInt16) -> [RecoveryStep] {
        guard let channel = channels[number], !channel.raw else { return [] }
        var steps: [RecoveryStep] = []
        for global in [false, true] {
            if let qos = channel.qos[global] { steps.append(.channelSetting(number, .basicQos(qos))) }
        }
        if channel.confirms != nil { steps.append(.channelSetting(number, .confirmSelect(ConfirmSelect()))) }
        if channel.transactional { steps.append(.channelSetting(number, .txSelect(TxSelect()))) }
        return steps
    }

    /// The channel topology steps run on: the lowest-numbered open channel that is not raw.
    private var topologyChannel: UInt16? {
        channels.numbers.first { channels[$0]?.raw == false && channels[$0]?.state == .open }
    }

    mutating func runNextStep(into out: inout EngineOutput) {
        while !recoverySteps.isEmpty {
            let step = recoverySteps.removeFirst()
            currentStep = step
            switch step {
            case .openChannel(let number):
                guard channels[number] != nil else { continue }
                channels[number]?.state = .opening
                send(channel: number, .channelOpen(ChannelOpen()), into: &out)
                return
            case .channelSetting(let number, let method):
                if sendStep(method, channel: number, into: &out) { return }
            case .declareExchange(let declare):
                if let channel = topologyChannel, sendStep(.exchangeDeclare(declare), channel: channel, into: &out) { return }
            case .declareQueue(let record):
                if let channel = topologyChannel, sendStep(.queueDeclare(record.declare), channel: channel, into: &out) { return }
            case .bindExchange(let bind):
                if let channel = topologyChannel, sendStep(.exchangeBind(bind), channel: channel, into: &out) { return }
            case .bindQueue(let bind):
                if let channel = topologyChannel, sendStep(.queueBind(bind), channel: channel, into: &out) { return }
            case .consume(let consumer):
                if sendStep(.basicConsume(consumer.consume), channel: consumer.channel, into: &out) { return }
            }
        }
        currentStep = nil
        recoveryActive = false
        out.events.append(.log(.info, "connection recovered" + (recoveryFailures > 0 ? " (\(recoveryFailures) entities could not be restored)" : "")))
        out.events.append(.recovered(failedEntities: recoveryFailures))
    }

    /// Sends a step's method and waits for its reply; false when it could not be sent.
    private mutating func sendStep(_ method: Method, channel number: UInt16, into out: inout EngineOutput) -> Bool {
        guard channels[number]?.state == .open else { return false }
        if let error = write(method, channel: number, into: &out) {
            reportFailure(AMQPError(error.kind, error.message, channel: number), into: &out)
            return false
        }
        channels[number]?.pending.append(PendingRequest(id: 0, awaiting: method, isRecoveryStep: true))
        return true
    }

    mutating func recoveryStepSucceeded(_ reply: Reply, into out: inout EngineOutput) {
        if case .declareQueue(let record)? = currentStep, case .queueDeclared(let name, _, _) = reply, name != record.name {
            topology.rename(queue: record.name, to: name)
            recoverySteps = recoverySteps.map { step in
                switch step {
                case .bindQueue(var bind) where bind.queue == record.name:
                    bind.queue = name
                    return .bindQueue(bind)
                case .consume(var consumer) where consumer.consume.queue == record.name:
                    consumer.consume.queue = name
                    return .consume(consumer)
                default:
                    return step
                }
            }
            out.events.append(.log(.info, "server-named queue '\(record.name.lossyString)' is now '\(name.lossyString)'"))
            out.events.append(.queueRenamed(old: record.name, new: name))
        }
        runNextStep(into: &out)
    }

    /// The broker closed a channel while a step ran on it: report the entity, forget it, reopen the
    /// channel and go on.
    mutating func recoveryStepFailed(channel number: UInt16, _ error: AMQPError, into out: inout EngineOutput) {
        reportFailure(error, into: &out)
        channels[number]?.pending.removeAll()
        channels[number]?.state = .opening
        recoverySteps.insert(contentsOf: [.openChannel(number)] + settingsSteps(number), at: 0)
        runNextStep(into: &out)
    }

    private mutating func reportFailure(_ error: AMQPError, into out: inout EngineOutput) {
        guard let step = currentStep else { return }
        recoveryFailures += 1
        switch step {
        case .declareExchange(let e): topology.record(.exchangeDelete(ExchangeDelete(exchange: e.exchange)), channel: 0, reply: .done)
        case .declareQueue(let q): topology.record(.queueDelete(QueueDelete(queue: q.name)), channel: 0, reply: .done)
        case .bindQueue(let b):
            topology.record(.queueUnbind(QueueUnbind(queue: b.queue, exchange: b.exchange, routingKey: b.routingKey, arguments: b.arguments)),
                            channel: 0, reply: .done)
        case .bindExchange(let b):
            topology.record(.exchangeUnbind(ExchangeUnbind(destination: b.destination, source: b.source, routingKey: b.routingKey,
                                                           arguments: b.arguments)), channel: 0, reply: .done)
        case .consume(let c): topology.consumerCancelled(c.consume.consumerTag)
        case .openChannel, .channelSetting: break
        }
        out.events.append(.log(.error, "could not restore \(step.entity): \(error)"))
        out.events.append(.recoveryEntityFailed(entity: step.entity, error))
    }
}
