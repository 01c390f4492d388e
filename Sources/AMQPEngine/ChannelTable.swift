import AMQPWire

/// The open channels of a connection, found by number without hashing: a slot per channel number
/// up to the highest in use. Channel numbers are handed out lowest-free first, so the table stays
/// as small as the most channels open at once (a dictionary's hashing was measured at 300-500
/// instructions per message).
struct ChannelTable {
    /// A state machine per slot, not an optional one: reading a field of an optional slot in place
    /// (`slots[i]?.raw`) copied the whole channel first (a 218-byte memcpy several times per
    /// delivery); a plain element's field is read where it is. An empty slot holds `vacant`.
    private var slots: [ChannelStateMachine] = []
    private var occupied: [Bool] = []
    private(set) var count = 0

    /// What an empty slot holds: a channel that was never opened.
    private static var vacant: ChannelStateMachine { ChannelStateMachine(number: 0, openRequest: 0) }

    var isEmpty: Bool { count == 0 }

    /// The slot of channel `number`, or nil when there is no such channel.
    @inline(__always)
    private func index(_ number: UInt16) -> Int? {
        let index = Int(number)
        return index < occupied.count && occupied[index] ? index : nil
    }

    /// The channel with `number` (a copy), or nil; setting nil removes it. The per-frame paths use
    /// `state(of:)`, `isRaw(_:)` and `modify(_:_:)` instead, which do not copy it.
    subscript(number: UInt16) -> ChannelStateMachine? {
        get { index(number).map { slots[$0] } }
        set {
            let index = Int(number)
            if index >= slots.count {
                guard newValue != nil else { return }
                slots.append(contentsOf: repeatElement(Self.vacant, count: index + 1 - slots.count))
                occupied.append(contentsOf: repeatElement(false, count: index + 1 - occupied.count))
            }
            if !occupied[index], newValue != nil { count += 1 }
            if occupied[index], newValue == nil { count -= 1 }
            occupied[index] = newValue != nil
            slots[index] = newValue ?? Self.vacant
        }
    }

    func contains(_ number: UInt16) -> Bool { index(number) != nil }

    /// The channel's state, read in place; nil when there is no such channel.
    func state(of number: UInt16) -> ChannelStateMachine.State? { index(number).map { slots[$0].state } }

    /// Whether the channel is in raw mode, read in place; nil when there is no such channel.
    func isRaw(_ number: UInt16) -> Bool? { index(number).map { slots[$0].raw } }

    /// What decides whether a publish on the channel must wait, read in place: channel.flow, and
    /// how many publishes await confirms (nil outside confirm mode). Nil when there is no such channel.
    func publishState(of number: UInt16) -> (flowActive: Bool, unconfirmed: Int?)? {
        index(number).map { (slots[$0].flowActive, slots[$0].confirms?.unconfirmedCount) }
    }

    /// Whether mandatory publishes on the channel await their confirms (returns are then matched
    /// to them), read in place.
    func hasMandatoryPublishes(_ number: UInt16) -> Bool {
        index(number).map { slots[$0].confirms?.hasMandatory == true } ?? false
    }

    /// The abandoned consume (see `ChannelStateMachine.abandonedConsumers`) that `delivery`'s
    /// consumer belongs to, read in place: without any such consumer on its channel, the consumer
    /// tag is neither read nor hashed.
    func abandonedConsumer(of delivery: InboundMessage) -> (noAck: Bool, request: RequestID)? {
        guard let index = index(delivery.channel), !slots[index].abandonedConsumers.isEmpty else { return nil }
        return slots[index].abandonedConsumers[delivery.consumerTag]
    }

    /// Mutates channel `number` in place; nil when there is no such channel. Always inlined: left
    /// generic, its optional result was copied through value witnesses on every frame.
    @inline(__always)
    mutating func modify<R>(_ number: UInt16, _ body: (inout ChannelStateMachine) -> R) -> R? {
        guard let index = index(number) else { return nil }
        return body(&slots[index])
    }

    /// The numbers of the open channels, ascending.
    var numbers: [UInt16] {
        var result: [UInt16] = []
        result.reserveCapacity(count)
        for index in occupied.indices where occupied[index] { result.append(UInt16(truncatingIfNeeded: index)) }
        return result
    }

    mutating func removeAll() {
        slots.removeAll()
        occupied.removeAll()
        count = 0
    }
}
