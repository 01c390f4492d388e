#if canImport(Glibc)
import Glibc
#endif
import AMQPEngine
import AMQPTransport
import CShim
import CSwiftAMQPAPI

@_cdecl("swamqp_connection_event_fd")
public func swamqp_connection_event_fd(_ pointer: OpaquePointer?) -> Int32 {
    if case .found(let handle) = resolve(pointer) { return handle.connection.watchedEventFD() }
    return -1
}

@_cdecl("swamqp_next_events")
public func swamqp_next_events(_ pointer: OpaquePointer?, _ events: UnsafeMutablePointer<swamqp_event>?, _ capacity: Int,
                               _ count: UnsafeMutablePointer<Int>?, _ timeoutMs: UInt32) -> Int32 {
    nextEvents(pointer, events, capacity, minCount: 1, lingerUs: 0, count, timeoutMs, nil)
}

@_cdecl("swamqp_next_events_batch")
public func swamqp_next_events_batch(_ pointer: OpaquePointer?, _ events: UnsafeMutablePointer<swamqp_event>?, _ capacity: Int,
                                     _ minCount: Int, _ lingerUs: UInt32, _ count: UnsafeMutablePointer<Int>?, _ timeoutMs: UInt32,
                                     _ error: UnsafeMutablePointer<swamqp_error>?) -> Int32 {
    nextEvents(pointer, events, capacity, minCount: minCount, lingerUs: lingerUs, count, timeoutMs, error)
}

private func nextEvents(_ pointer: OpaquePointer?, _ events: UnsafeMutablePointer<swamqp_event>?, _ capacity: Int,
                        minCount: Int, lingerUs: UInt32, _ count: UnsafeMutablePointer<Int>?, _ timeoutMs: UInt32,
                        _ error: UnsafeMutablePointer<swamqp_error>?) -> Int32 {
    withHandle(pointer, error) { handle in
        guard let count else { return report(.invalidArgument, "count must not be NULL", error) }
        count.pointee = 0
        guard let events else { return report(.invalidArgument, "events must not be NULL", error) }
        let limit: Int
        let wanted: Int
        do throws(InvalidArgument) {
            limit = try checkedLength(capacity, "capacity")
            wanted = try checkedLength(minCount, "min_count")
        } catch let invalid {
            return report(.invalidArgument, invalid.message, error)
        }
        guard limit > 0 else { return report(.invalidArgument, "capacity must be at least 1", error) }
        // A callback may still be reading the current batch; draining would free it.
        guard swiftamqp_shim_callback_depth() == 0 else {
            return report(status: SWAMQP_ERR_IN_CALLBACK, "events cannot be drained from inside an event callback", error)
        }
        var (arena, taken) = handle.beginDrain()
        let open = handle.connection.takeEvents(into: &taken, limit: limit, timeoutMs: timeoutMs, minCount: min(wanted, limit),
                                                lingerNs: UInt64(lingerUs) * 1000)
        for i in taken.indices { events[i] = arena.cEvent(taken[i]) }
        count.pointee = taken.count
        handle.endDrain(arena, &taken)
        guard open else { return report(.connectionClosed, "the connection has ended and its last event was taken", error) }
        clear(error)
        return SWAMQP_OK.rawValue
    }
}

@_cdecl("swamqp_set_log_level")
public func swamqp_set_log_level(_ pointer: OpaquePointer?, _ level: Int32) -> Int32 {
    withHandle(pointer, nil) { handle in
        guard (0...4).contains(level) else { return SWAMQP_ERR_INVALID_ARGUMENT.rawValue }
        handle.connection.setLogLevel(level)
        return SWAMQP_OK.rawValue
    }
}

@_cdecl("swamqp_events_release")
public func swamqp_events_release(_ pointer: OpaquePointer?) -> Int32 {
    withHandle(pointer, nil) { handle in
        guard swiftamqp_shim_callback_depth() == 0 else { return SWAMQP_ERR_IN_CALLBACK.rawValue }
        handle.state.withLock { $0.batch?.reset() }
        return SWAMQP_OK.rawValue
    }
}

@_cdecl("swamqp_set_event_callback")
public func swamqp_set_event_callback(_ pointer: OpaquePointer?, _ callback: swamqp_event_callback?,
                                      _ userData: UnsafeMutableRawPointer?) -> Int32 {
    withHandle(pointer, nil) { handle in
        handle.state.withLock {
            $0.callback = callback
            $0.userData = userData
        }
        return SWAMQP_OK.rawValue
    }
}

@_cdecl("swamqp_dispatch_events")
public func swamqp_dispatch_events(_ pointer: OpaquePointer?, _ timeoutMs: UInt32, _ dispatched: UnsafeMutablePointer<Int>?) -> Int32 {
    withHandle(pointer, nil) { handle in
        dispatched?.pointee = 0
        guard swiftamqp_shim_callback_depth() == 0 else { return SWAMQP_ERR_IN_CALLBACK.rawValue }
        let (callback, userData) = handle.state.withLock { ($0.callback, $0.userData) }
        guard let callback else { return SWAMQP_ERR_BAD_STATE.rawValue }
        var (arena, taken) = handle.beginDrain()
        guard handle.connection.takeEvents(into: &taken, limit: 256, timeoutMs: timeoutMs) || !taken.isEmpty else {
            handle.endDrain(arena, &taken)
            return SWAMQP_ERR_CONNECTION_CLOSED.rawValue
        }
        swiftamqp_shim_callback_enter(UnsafeRawPointer(pointer))
        for event in taken {
            var cEvent = arena.cEvent(event)
            callback(pointer, &cEvent, userData)
        }
        swiftamqp_shim_callback_leave()
        dispatched?.pointee = taken.count
        handle.endDrain(arena, &taken)
        return SWAMQP_OK.rawValue
    }
}
