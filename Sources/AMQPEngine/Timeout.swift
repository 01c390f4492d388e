/// Time limits as the C API takes them: milliseconds in 32 bits, where `forever`
/// (SWAMQP_WAIT_FOREVER, UINT32_MAX) means no limit. Deadlines are monotonic nanoseconds and
/// saturate instead of wrapping, so no timeout, however large, can turn into a short one.
public enum Timeout {
    /// No limit: wait until the thing happens or the connection ends.
    public static let forever = UInt32.max

    /// The deadline `ms` after `now`; `UInt64.max` (never) for `forever`.
    public static func deadline(afterMs ms: UInt32, from now: UInt64) -> UInt64 {
        guard ms != forever else { return .max }
        let (sum, overflow) = now.addingReportingOverflow(UInt64(ms) * 1_000_000)
        return overflow ? .max : sum
    }

    /// `ms` plus a margin of `extra` ms, saturating at `forever`.
    public static func adding(_ extra: UInt32, to ms: UInt32) -> UInt32 {
        guard ms != forever else { return forever }
        let (sum, overflow) = ms.addingReportingOverflow(extra)
        return overflow ? forever : sum
    }
}
