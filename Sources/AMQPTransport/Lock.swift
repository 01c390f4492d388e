#if canImport(Glibc)
import Glibc
#endif

/// A pthread mutex with two condition variables, for waits with a deadline (Synchronization's
/// Mutex has no condition): one for callers' waits, one for the I/O thread's hand-offs to them.
/// Heap-allocated so their addresses never move.
final class ConditionLock: @unchecked Sendable {
    private let mutex = UnsafeMutablePointer<pthread_mutex_t>.allocate(capacity: 1)
    private let condition = UnsafeMutablePointer<pthread_cond_t>.allocate(capacity: 1)
    private let handOffCondition = UnsafeMutablePointer<pthread_cond_t>.allocate(capacity: 1)

    init() {
        pthread_mutex_init(mutex, nil)
        var attributes = pthread_condattr_t()
        pthread_condattr_init(&attributes)
        pthread_condattr_setclock(&attributes, CLOCK_MONOTONIC)
        pthread_cond_init(condition, &attributes)
        pthread_cond_init(handOffCondition, &attributes)
        pthread_condattr_destroy(&attributes)
    }

    deinit {
        pthread_cond_destroy(handOffCondition)
        pthread_cond_destroy(condition)
        pthread_mutex_destroy(mutex)
        mutex.deallocate()
        condition.deallocate()
        handOffCondition.deallocate()
    }

    func lock() { pthread_mutex_lock(mutex) }
    func unlock() { pthread_mutex_unlock(mutex) }
    /// Takes the lock if it is free; false (without waiting) when another thread holds it.
    func tryLock() -> Bool { pthread_mutex_trylock(mutex) == 0 }

    @inline(__always)
    func withLock<T>(_ body: () throws -> T) rethrows -> T {
        pthread_mutex_lock(mutex)
        defer { pthread_mutex_unlock(mutex) }
        return try body()
    }

    func broadcast() { pthread_cond_broadcast(condition) }

    /// Waits (the lock held) until signalled or `deadline` (monotonic ns) passes; false on timeout.
    func wait(until deadline: UInt64) -> Bool {
        var ts = timespec(tv_sec: Int(deadline / 1_000_000_000), tv_nsec: Int(deadline % 1_000_000_000))
        return pthread_cond_timedwait(condition, mutex, &ts) == 0
    }

    /// Lends the lock (held) to the threads waiting for it until one calls `handBack()` or
    /// `deadline` (monotonic ns) passes.
    func lend(until deadline: UInt64) {
        var ts = timespec(tv_sec: Int(deadline / 1_000_000_000), tv_nsec: Int(deadline % 1_000_000_000))
        _ = pthread_cond_timedwait(handOffCondition, mutex, &ts)
    }

    /// Wakes the thread that lent the lock (called with the lock held).
    func handBack() { pthread_cond_signal(handOffCondition) }
}
