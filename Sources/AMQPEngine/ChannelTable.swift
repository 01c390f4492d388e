import AMQPWire

/// The open channels of a connection, found by number without hashing: a slot per channel number
/// up to the highest in use. Channel numbers are handed out lowest-free first, so the table stays
/// as small as the most channels open at once (a dictionary's hashing was measured at 300-500
/// instructions per message).
struct ChannelTable {
    private var slots: [ChannelStateMachine?] = []
    private(set) var count = 0

    var isEmpty: Bool { count == 0 }

    /// The channel with `number` (a copy), or nil; setting nil removes it. The per-frame paths use
    /// `state(of:)`, `isRaw(_:)` and `modify(_:_:)` instead, which read and change it in place.
    subscript(number: UInt16) -> ChannelStateMachine? {
        get {
            let index = Int(number)
            return index < slots.count ? slots[index] : nil
        }
        set {
            let index = Int(number)
            if index >= slots.count {
                guard newValue != nil else { return }
                slots.append(contentsOf: repeatElement(nil, count: index + 1 - slots.count))
            }
            if slots[index] == nil, newValue != nil { count += 1 }
            if slots[index] != nil, newValue == nil { count -= 1 }
            slots[index] = newValue
        }
    }

    func contains(_ number: UInt16) -> Bool {
        let index = Int(number)
        return index < slots.count && slots[index] != nil
    }

    /// The channel's state, read in place; nil when there is no such channel.
    func state(of number: UInt16) -> ChannelStateMachine.State? {
        let index = Int(number)
        return index < slots.count ? slots[index]?.state : nil
    }

    /// Whether the channel is in raw mode, read in place; nil when there is no such channel.
    func isRaw(_ number: UInt16) -> Bool? {
        let index = Int(number)
        return index < slots.count ? slots[index]?.raw : nil
    }

    /// What decides whether a publish on the channel must wait, read in place: channel.flow, and
    /// how many publishes await confirms (nil outside confirm mode). Nil when there is no such channel.
    func publishState(of number: UInt16) -> (flowActive: Bool, unconfirmed: Int?)? {
        let index = Int(number)
        guard index < slots.count, slots[index] != nil else { return nil }
        return (slots[index]?.flowActive ?? true, slots[index]?.confirms?.unconfirmedCount)
    }

    /// Whether mandatory publishes on the channel await their confirms (returns are then matched
    /// to them), read in place.
    func hasMandatoryPublishes(_ number: UInt16) -> Bool {
        let index = Int(number)
        return index < slots.count && slots[index]?.confirms?.hasMandatory == true
    }

    /// The abandoned consume (see `ChannelStateMachine.abandonedConsumers`) that consumer `tag` on
    /// the channel belongs to, read in place: without any such consumer no tag is hashed.
    func abandonedConsumer(_ tag: Bytes, on number: UInt16) -> (noAck: Bool, request: RequestID)? {
        let index = Int(number)
        guard index < slots.count, slots[index]?.abandonedConsumers.isEmpty == false else { return nil }
        return slots[index]?.abandonedConsumers[tag]
    }

    /// Mutates channel `number` in place; nil when there is no such channel.
    mutating func modify<R>(_ number: UInt16, _ body: (inout ChannelStateMachine) -> R) -> R? {
        let index = Int(number)
        guard index < slots.count else { return nil }
        return slots[index]?.mutate(body)
    }

    /// The numbers of the open channels, ascending.
    var numbers: [UInt16] {
        var result: [UInt16] = []
        result.reserveCapacity(count)
        for index in slots.indices where slots[index] != nil { result.append(UInt16(truncatingIfNeeded: index)) }
        return result
    }

    mutating func removeAll() {
        slots.removeAll()
        count = 0
    }
}

extension ChannelStateMachine {
    /// Runs `body` on this channel in place (reached through optional chaining on a table slot).
    mutating func mutate<R>(_ body: (inout ChannelStateMachine) -> R) -> R { body(&self) }
}
