#if canImport(Glibc)
import Glibc
#endif
import AMQPEngine
import AMQPTransport
import CShim
import CSwiftAMQPAPI
import Synchronization

/// What a `swamqp_connection *` token stands for.
final class ConnectionHandle: @unchecked Sendable {
    let connection: Connection
    let forkGeneration = swiftamqp_shim_fork_generation()
    /// The event callback and its user data, and the memory of the last batch of events handed
    /// out; guarded by `state`.
    let state = Mutex(HandleState())

    init(connection: Connection) { self.connection = connection }
}

struct HandleState: @unchecked Sendable {
    var callback: swamqp_event_callback?
    var userData: UnsafeMutableRawPointer?
    /// The memory of the batch the application holds; reset and refilled by the next drain.
    var batch: Arena?
    /// The event array a drain fills, kept (emptied) between drains.
    var events: [EngineEvent] = []
}

extension ConnectionHandle {
    /// Takes the arena and event array for a drain. The previous batch's memory is reset here:
    /// the application's pointers into it end now, as the header says. A drain racing another
    /// on the same handle finds nothing to take and makes its own, so the two never share.
    func beginDrain() -> (Arena, [EngineEvent]) {
        let (arena, events) = state.withLock { state -> (Arena?, [EngineEvent]) in
            defer { state.batch = nil }
            var events: [EngineEvent] = []
            swap(&events, &state.events)
            return (state.batch, events)
        }
        guard let arena else { return (Arena(), events) }
        arena.reset()
        return (arena, events)
    }

    /// Hands the filled arena to the application and keeps the (emptied) event array; received
    /// messages go back to the connection for reuse.
    func endDrain(_ arena: Arena, _ events: inout [EngineEvent]) {
        connection.recycle(&events)
        state.withLock { state in
            state.batch = arena
            swap(&state.events, &events)
        }
    }
}

/// Tokens for handles: a slot index and the slot's generation, so a freed or made-up token is
/// recognised instead of dereferenced.
struct HandleTable: ~Copyable {
    private var slots: [(generation: UInt32, handle: ConnectionHandle?)] = []
    private var free: [Int] = []

    mutating func insert(_ handle: ConnectionHandle) -> UInt {
        let index: Int
        if let reused = free.popLast() {
            index = reused
        } else {
            index = slots.count
            slots.append((0, nil))
        }
        slots[index].generation &+= 1
        if slots[index].generation == 0 { slots[index].generation = 1 }
        slots[index].handle = handle
        return (UInt(slots[index].generation) << 32) | UInt(index + 1) << 4
    }

    func lookup(_ token: UInt) -> ConnectionHandle? {
        guard let index = Self.index(token), index < slots.count,
              slots[index].generation == UInt32(truncatingIfNeeded: token >> 32) else { return nil }
        return slots[index].handle
    }

    mutating func remove(_ token: UInt) -> ConnectionHandle? {
        guard let handle = lookup(token), let index = Self.index(token) else { return nil }
        slots[index].handle = nil
        free.append(index)
        return handle
    }

    private static func index(_ token: UInt) -> Int? {
        let low = (token & 0xFFFF_FFFF)
        guard token & 0xF == 0, low >> 4 > 0 else { return nil }
        return Int(low >> 4) - 1
    }
}

let handles = Mutex(HandleTable())

/// Messages handed out by swamqp_basic_get, by address, so a double or foreign free is caught.
let liveMessages = Mutex([UInt: Arena]())

enum HandleLookup {
    case found(ConnectionHandle)
    case failed(Int32)
}

/// Resolves a token; fails with INVALID_HANDLE or FORKED.
func resolve(_ pointer: OpaquePointer?) -> HandleLookup {
    guard let pointer else { return .failed(SWAMQP_ERR_INVALID_HANDLE.rawValue) }
    let token = UInt(bitPattern: Int(bitPattern: UnsafeRawPointer(pointer)))
    guard let handle = handles.withLock({ $0.lookup(token) }) else { return .failed(SWAMQP_ERR_INVALID_HANDLE.rawValue) }
    guard handle.forkGeneration == swiftamqp_shim_fork_generation() else { return .failed(SWAMQP_ERR_FORKED.rawValue) }
    return .found(handle)
}

func token(for handle: ConnectionHandle) -> OpaquePointer? {
    let token = handles.withLock { $0.insert(handle) }
    return OpaquePointer(bitPattern: token)
}
