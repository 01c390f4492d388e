#if canImport(Glibc)
import Glibc
#endif
import CSwiftAMQPAPI

/// The size of a packed delivery record's fixed part (see swamqp_deliveries_pack in the header).
private let recordHead = 56

/// The length of one of a record's strings, checked to fit its u32 length field.
private func stringLength(_ value: swamqp_bytes, _ field: StaticString, index: Int) throws(InvalidArgument) -> Int {
    try checkedLength(value.len, "event \(index): message \(field) length", limit: Int(UInt32.max))
}

/// Writes string `slot`'s length into the record head and its bytes at `cursor`; returns the
/// cursor after them.
private func storeString(_ value: swamqp_bytes, slot: Int, head: UnsafeMutableRawPointer, cursor: Int) -> Int {
    head.storeBytes(of: UInt32(truncatingIfNeeded: value.len), toByteOffset: 28 + 4 * slot, as: UInt32.self)
    if value.len > 0, let bytes = value.bytes { memcpy(head + cursor, bytes, value.len) }
    return cursor + value.len
}

/// One delivery's record into `out` at `offset`: its size, or nil when it does not fit in `room`
/// bytes. Called per delivery: no arrays (an allocation each), the four strings one by one; only
/// a message with properties has them encoded (for bindings that decode them on first use).
private func packRecord(_ m: swamqp_message, index: Int, into out: UnsafeMutableRawPointer, at offset: Int,
                        room: Int) throws(InvalidArgument) -> Int? {
    // Four lengths of at most 2^32 - 1 each: the sum cannot overflow Int.
    let size = try recordHead + stringLength(m.consumer_tag, "consumer_tag", index: index)
        + stringLength(m.exchange, "exchange", index: index) + stringLength(m.routing_key, "routing_key", index: index)
        + stringLength(m.reply_text, "reply_text", index: index)
    let bodyLength = try checkedLength(m.body.len, "event \(index): message body length")
    var properties: ArraySlice<UInt8> = []
    if m.properties.flags != 0 {
        // A content header's property list is at most a frame: it fits its u32 length field.
        properties = try withUnsafePointer(to: m.properties) { p throws(InvalidArgument) in try encodedProperties(p) }
    }
    let (withBody, overflow) = size.addingReportingOverflow(bodyLength)
    guard !overflow, withBody <= Int.max - 7 - properties.count else { return nil }
    let recordSize = (withBody + properties.count + 7) & ~7 // records start 8-byte aligned
    guard recordSize <= room else { return nil }
    let head = out + offset
    head.storeBytes(of: UInt32(truncatingIfNeeded: recordSize), as: UInt32.self)
    head.storeBytes(of: UInt32(truncatingIfNeeded: index), toByteOffset: 4, as: UInt32.self)
    head.storeBytes(of: m.delivery_tag, toByteOffset: 8, as: UInt64.self)
    head.storeBytes(of: m.message_count, toByteOffset: 16, as: UInt32.self)
    head.storeBytes(of: m.properties.flags, toByteOffset: 20, as: UInt32.self)
    head.storeBytes(of: m.reply_code, toByteOffset: 24, as: UInt16.self)
    head.storeBytes(of: m.redelivered ? 1 : 0, toByteOffset: 26, as: UInt8.self)
    head.storeBytes(of: 0, toByteOffset: 27, as: UInt8.self)
    var cursor = storeString(m.consumer_tag, slot: 0, head: head, cursor: recordHead)
    cursor = storeString(m.exchange, slot: 1, head: head, cursor: cursor)
    cursor = storeString(m.routing_key, slot: 2, head: head, cursor: cursor)
    cursor = storeString(m.reply_text, slot: 3, head: head, cursor: cursor)
    head.storeBytes(of: UInt32(truncatingIfNeeded: properties.count), toByteOffset: 44, as: UInt32.self)
    head.storeBytes(of: UInt64(bodyLength), toByteOffset: 48, as: UInt64.self)
    if bodyLength > 0, let bytes = m.body.bytes { memcpy(head + cursor, bytes, bodyLength) }
    cursor += bodyLength
    properties.withUnsafeBytes { encoded in
        if let base = encoded.baseAddress { memcpy(head + cursor, base, encoded.count) }
    }
    cursor += properties.count
    if recordSize > cursor { memset(head + cursor, 0, recordSize - cursor) }
    return recordSize
}

@_cdecl("swamqp_deliveries_pack")
public func swamqp_deliveries_pack(_ events: UnsafePointer<swamqp_event>?, _ count: Int, _ buffer: UnsafeMutableRawPointer?,
                                   _ capacity: Int, _ eventsPacked: UnsafeMutablePointer<Int>?,
                                   _ written: UnsafeMutablePointer<Int>?, _ error: UnsafeMutablePointer<swamqp_error>?) -> Int32 {
    eventsPacked?.pointee = 0
    written?.pointee = 0
    guard let eventsPacked, let written else {
        return report(.invalidArgument, "events_packed and written must not be NULL", error)
    }
    let total: Int, room: Int
    do throws(InvalidArgument) {
        total = try checkedLength(count, "count")
        room = try checkedLength(capacity, "capacity")
    } catch let invalid {
        return report(.invalidArgument, invalid.message, error)
    }
    guard total == 0 || events != nil else { return report(.invalidArgument, "events is NULL with count \(total)", error) }
    guard room == 0 || buffer != nil else { return report(.invalidArgument, "buffer is NULL with capacity \(room)", error) }
    var used = 0
    var index = 0
    while index < total, let events {
        let event = events[index]
        if event.type == Int32(SWAMQP_EVENT_DELIVERY.rawValue), let message = event.message {
            guard let buffer else { break }
            let size: Int?
            do throws(InvalidArgument) {
                size = try packRecord(message.pointee, index: index, into: buffer, at: used, room: room - used)
            } catch let invalid {
                eventsPacked.pointee = index
                written.pointee = used
                return report(.invalidArgument, invalid.message, error)
            }
            guard let size else { break }
            used += size
        }
        index += 1
    }
    eventsPacked.pointee = index
    written.pointee = used
    clear(error)
    return SWAMQP_OK.rawValue
}
