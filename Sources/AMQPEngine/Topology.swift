import AMQPWire

/// What the application declared, kept so automatic recovery can declare it again on a new
/// connection: exchanges, queues (server-named ones get a new name), bindings and consumers.
/// Records are made from successful replies (or at send time for nowait methods) and removed by
/// the matching delete, unbind or cancel.
struct TopologyRecords {
    struct QueueRecord {
        var declare: QueueDeclare
        /// The name the broker knows it by now (server-named queues change it on recovery).
        var name: Bytes
        var serverNamed: Bool { declare.queue.isEmpty }
    }

    struct ConsumerRecord {
        var channel: UInt16
        var consume: BasicConsume
    }

    var exchanges: [ExchangeDeclare] = []
    var queues: [QueueRecord] = []
    var queueBindings: [QueueBind] = []
    var exchangeBindings: [ExchangeBind] = []
    var consumers: [ConsumerRecord] = []

    /// Notes the effect of `method`, sent on `channel`, which succeeded with `reply`.
    mutating func record(_ method: Method, channel: UInt16, reply: Reply) {
        switch method {
        case .exchangeDeclare(var declare) where !declare.passive:
            declare.nowait = false
            exchanges.removeAll { $0.exchange == declare.exchange }
            exchanges.append(declare)
        case .exchangeDelete(let delete):
            exchanges.removeAll { $0.exchange == delete.exchange }
            exchangeBindings.removeAll { $0.source == delete.exchange || $0.destination == delete.exchange }
            queueBindings.removeAll { $0.exchange == delete.exchange }
        case .queueDeclare(var declare) where !declare.passive:
            declare.nowait = false
            guard case .queueDeclared(let name, _, _) = reply else { return }
            queues.removeAll { $0.name == name }
            queues.append(QueueRecord(declare: declare, name: name))
        case .queueDelete(let delete):
            queues.removeAll { $0.name == delete.queue }
            queueBindings.removeAll { $0.queue == delete.queue }
            consumers.removeAll { $0.consume.queue == delete.queue }
        case .queueBind(var bind):
            bind.nowait = false
            if !queueBindings.contains(bind) { queueBindings.append(bind) }
        case .queueUnbind(let unbind):
            queueBindings.removeAll {
                $0.queue == unbind.queue && $0.exchange == unbind.exchange && $0.routingKey == unbind.routingKey && $0.arguments == unbind.arguments
            }
        case .exchangeBind(var bind):
            bind.nowait = false
            if !exchangeBindings.contains(bind) { exchangeBindings.append(bind) }
        case .exchangeUnbind(let unbind):
            exchangeBindings.removeAll {
                $0.destination == unbind.destination && $0.source == unbind.source && $0.routingKey == unbind.routingKey
                    && $0.arguments == unbind.arguments
            }
        case .basicConsume(var consume):
            guard case .consumerStarted(let tag, _) = reply else { return }
            consume.consumerTag = tag
            consume.nowait = false
            consumers.removeAll { $0.consume.consumerTag == tag }
            consumers.append(ConsumerRecord(channel: channel, consume: consume))
        case .basicCancel(let cancel):
            consumers.removeAll { $0.consume.consumerTag == cancel.consumerTag }
        default:
            break
        }
    }

    /// A channel ended for good: its consumers went with it.
    mutating func channelEnded(_ channel: UInt16) {
        consumers.removeAll { $0.channel == channel }
    }

    mutating func consumerCancelled(_ tag: Bytes) {
        consumers.removeAll { $0.consume.consumerTag == tag }
    }

    /// A server-named queue came back under a new name: bindings and consumers follow it.
    mutating func rename(queue old: Bytes, to new: Bytes) {
        for i in queues.indices where queues[i].name == old { queues[i].name = new }
        for i in queueBindings.indices where queueBindings[i].queue == old { queueBindings[i].queue = new }
        for i in consumers.indices where consumers[i].consume.queue == old { consumers[i].consume.queue = new }
    }
}

/// One step of restoring a connection after a reconnect; they run one at a time, in order.
enum RecoveryStep {
    case openChannel(UInt16)
    case channelSetting(UInt16, Method)
    case declareExchange(ExchangeDeclare)
    case declareQueue(TopologyRecords.QueueRecord)
    case bindQueue(QueueBind)
    case bindExchange(ExchangeBind)
    case consume(TopologyRecords.ConsumerRecord)

    /// How the entity is named in a "could not be restored" report.
    var entity: String {
        switch self {
        case .openChannel(let n): return "channel \(n)"
        case .channelSetting(let n, let method): return "\(method.name) on channel \(n)"
        case .declareExchange(let e): return "exchange '\(e.exchange.lossyString)'"
        case .declareQueue(let q): return q.serverNamed ? "server-named queue (was '\(q.name.lossyString)')" : "queue '\(q.name.lossyString)'"
        case .bindQueue(let b): return "binding of queue '\(b.queue.lossyString)' to '\(b.exchange.lossyString)' ('\(b.routingKey.lossyString)')"
        case .bindExchange(let b): return "binding of exchange '\(b.destination.lossyString)' to '\(b.source.lossyString)' ('\(b.routingKey.lossyString)')"
        case .consume(let c): return "consumer '\(c.consume.consumerTag.lossyString)' on queue '\(c.consume.queue.lossyString)'"
        }
    }
}

/// How often and how long to try reconnecting.
public struct RecoveryPolicy: Sendable {
    public var initialDelayMs: UInt32 = 250
    public var maxDelayMs: UInt32 = 30_000
    /// 0: never give up.
    public var maxAttempts: UInt32 = 0

    public init() {}

    /// The delay before attempt `attempt` (0-based): doubling from the initial delay up to the cap,
    /// with up to half of it taken off at random so many clients do not reconnect in step.
    public func delayMs(attempt: Int, random: UInt64) -> UInt32 {
        let exponent = min(attempt, 20)
        let base = min(UInt64(initialDelayMs) << UInt64(exponent), UInt64(maxDelayMs))
        let jitter = base / 2 == 0 ? 0 : random % (base / 2 + 1)
        return UInt32(base - jitter)
    }
}

/// A host and port to connect to; the first is the configured host, then these in turn.
public struct Endpoint: Sendable, Equatable {
    public var host: String
    public var port: UInt16
    public init(host: String, port: UInt16) {
        self.host = host
        self.port = port
    }
}
