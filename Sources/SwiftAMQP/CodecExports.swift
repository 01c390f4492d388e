#if canImport(Glibc)
import Glibc
#endif
import AMQPWire
import CSwiftAMQPAPI
import Synchronization

// The generated codec as pure C functions: method arguments, field tables and basic properties to
// bytes and back. No connection, no protocol logic; the librabbitmq compatibility layer builds
// amqp_encode_* / amqp_decode_* on these.

/// What the decode functions handed out, by the address returned, so a foreign or double free is
/// caught (as for swamqp_message_free).
private let liveDecoded = Mutex([UInt: Arena]())

private func keep<T>(_ pointer: UnsafeMutablePointer<T>, _ arena: Arena) -> UnsafePointer<T> {
    liveDecoded.withLock { $0[UInt(bitPattern: pointer)] = arena }
    return UnsafePointer(pointer)
}

/// Copies `bytes` into the caller's buffer; `*written` gets the size needed either way, so a
/// caller can ask with capacity 0 and call again.
func copyOut(_ bytes: [UInt8], _ buffer: UnsafeMutableRawPointer?, _ capacity: Int,
             _ written: UnsafeMutablePointer<Int>?, _ error: UnsafeMutablePointer<swamqp_error>?) -> Int32 {
    written?.pointee = bytes.count
    let room: Int
    do throws(InvalidArgument) {
        room = try checkedLength(capacity, "capacity")
    } catch let invalid {
        return report(.invalidArgument, invalid.message, error)
    }
    guard bytes.count <= room else {
        return report(.invalidArgument, "the encoding takes \(bytes.count) bytes; the buffer has \(room)", error)
    }
    guard bytes.count > 0 else {
        clear(error)
        return SWAMQP_OK.rawValue
    }
    guard let buffer else { return report(.invalidArgument, "buffer is NULL with capacity \(room)", error) }
    bytes.withUnsafeBytes { source in
        if let base = source.baseAddress { buffer.copyMemory(from: base, byteCount: source.count) }
    }
    clear(error)
    return SWAMQP_OK.rawValue
}

/// The caller's encoded input as Bytes (copied: decoded strings may outlive the caller's buffer).
private func input(_ pointer: UnsafeRawPointer?, _ len: Int) throws(InvalidArgument) -> Bytes {
    try SwiftAMQP.bytes(swamqp_bytes(bytes: pointer, len: len), "bytes")
}

/// A method argument: scalars take their full range (a longlong delivery tag may exceed
/// INT64_MAX, unlike a field-table 'L'); strings and tables as in tables.
private func argument(_ value: swamqp_field_value, index: Int) throws(InvalidArgument) -> FieldValue {
    let u = value.value
    switch value.kind {
    case UInt8(ascii: "t"): return .bool(u.boolean)
    case UInt8(ascii: "B"): return .uint8(u.u8)
    case UInt8(ascii: "u"): return .uint16(u.u16)
    case UInt8(ascii: "i"): return .uint32(u.u32)
    case UInt8(ascii: "L"): return .uint64(u.u64)
    case UInt8(ascii: "T"): return .timestamp(u.u64)
    case UInt8(ascii: "S"), UInt8(ascii: "F"): return try fieldValue(value, depth: 0)
    default:
        throw InvalidArgument(message: "argument \(index + 1): kind '\(Character(Unicode.Scalar(value.kind)))' is not a method argument kind (t B u i L T S F)")
    }
}

@_cdecl("swamqp_method_encode")
public func swamqp_method_encode(_ classID: UInt16, _ methodID: UInt16, _ fields: UnsafePointer<swamqp_field_value>?, _ count: Int,
                                 _ buffer: UnsafeMutableRawPointer?, _ capacity: Int, _ written: UnsafeMutablePointer<Int>?,
                                 _ error: UnsafeMutablePointer<swamqp_error>?) -> Int32 {
    written?.pointee = 0
    let method: Method
    do throws(InvalidArgument) {
        let n = try checkedLength(count, "count", limit: 64)
        var values: [FieldValue] = []
        if n > 0 {
            guard let fields else { throw InvalidArgument(message: "fields is NULL with count \(n)") }
            for i in 0..<n { values.append(try argument(fields[i], index: i)) }
        }
        do {
            method = try Method(classID: classID, methodID: methodID, fields: values)
        } catch {
            throw InvalidArgument(message: "method \(classID).\(methodID): \(error)")
        }
    } catch let invalid {
        return report(.invalidArgument, invalid.message, error)
    }
    var writer = ByteWriter()
    do {
        try method.encode(into: &writer)
    } catch let failure {
        return report(.invalidArgument, "\(method.name): \(failure)", error)
    }
    // encode() writes the class and method ids first; the arguments follow.
    return copyOut(Array(writer.buffer.dropFirst(4)), buffer, capacity, written, error)
}

@_cdecl("swamqp_method_decode")
public func swamqp_method_decode(_ classID: UInt16, _ methodID: UInt16, _ bytes: UnsafeRawPointer?, _ len: Int,
                                 _ fields: UnsafeMutablePointer<UnsafePointer<swamqp_array>?>?, _ error: UnsafeMutablePointer<swamqp_error>?) -> Int32 {
    guard let fields else { return report(.invalidArgument, "fields must not be NULL", error) }
    fields.pointee = nil
    let method: Method
    do throws(InvalidArgument) {
        var reader = ByteReader(try input(bytes, len))
        do {
            method = try Method.decode(classID: classID, methodID: methodID, from: &reader)
        } catch {
            throw InvalidArgument(message: "method \(classID).\(methodID): \(error)")
        }
    } catch let invalid {
        return report(.invalidArgument, invalid.message, error)
    }
    let arena = Arena()
    let values = method.fields
    guard let array = arena.allocate(swamqp_array.self, count: 1) else { return report(status: SWAMQP_ERR_NO_MEMORY, "out of memory", error) }
    if !values.isEmpty {
        guard let cValues = arena.allocate(swamqp_field_value.self, count: values.count) else {
            return report(status: SWAMQP_ERR_NO_MEMORY, "out of memory", error)
        }
        for (i, value) in values.enumerated() { cValues[i] = arena.cValue(value) }
        array.pointee = swamqp_array(count: values.count, values: cValues)
    }
    fields.pointee = keep(array, arena)
    clear(error)
    return SWAMQP_OK.rawValue
}

@_cdecl("swamqp_table_encode")
public func swamqp_table_encode(_ table: UnsafePointer<swamqp_table>?, _ buffer: UnsafeMutableRawPointer?, _ capacity: Int,
                                _ written: UnsafeMutablePointer<Int>?, _ error: UnsafeMutablePointer<swamqp_error>?) -> Int32 {
    written?.pointee = 0
    let value: FieldTable
    do throws(InvalidArgument) {
        value = try SwiftAMQP.table(table)
    } catch let invalid {
        return report(.invalidArgument, invalid.message, error)
    }
    var writer = ByteWriter()
    do {
        try writer.writeTable(value)
    } catch let failure {
        return report(.invalidArgument, "field table: \(failure)", error)
    }
    return copyOut(writer.buffer, buffer, capacity, written, error)
}

@_cdecl("swamqp_table_decode")
public func swamqp_table_decode(_ bytes: UnsafeRawPointer?, _ len: Int, _ consumed: UnsafeMutablePointer<Int>?,
                                _ table: UnsafeMutablePointer<UnsafePointer<swamqp_table>?>?, _ error: UnsafeMutablePointer<swamqp_error>?) -> Int32 {
    guard let table else { return report(.invalidArgument, "table must not be NULL", error) }
    table.pointee = nil
    consumed?.pointee = 0
    let decoded: FieldTable
    var reader: ByteReader
    do throws(InvalidArgument) {
        reader = ByteReader(try input(bytes, len))
        do {
            decoded = try reader.readTable()
        } catch {
            throw InvalidArgument(message: "field table: \(error)")
        }
    } catch let invalid {
        return report(.invalidArgument, invalid.message, error)
    }
    let arena = Arena()
    guard let result = arena.allocate(swamqp_table.self, count: 1) else { return report(status: SWAMQP_ERR_NO_MEMORY, "out of memory", error) }
    result.pointee = arena.cTable(decoded)
    consumed?.pointee = reader.position
    table.pointee = keep(result, arena)
    clear(error)
    return SWAMQP_OK.rawValue
}

/// `properties` (NULL: none) as a content header carries them after class, weight and body size:
/// the property flags, then the properties present.
func encodedProperties(_ properties: UnsafePointer<swamqp_properties>?) throws(InvalidArgument) -> ArraySlice<UInt8> {
    let value = try SwiftAMQP.properties(properties)
    var writer = ByteWriter()
    do {
        try value.encode(into: &writer)
    } catch let failure {
        throw InvalidArgument(message: "properties: \(failure)")
    }
    return writer.buffer[...]
}

@_cdecl("swamqp_properties_encode")
public func swamqp_properties_encode(_ properties: UnsafePointer<swamqp_properties>?, _ buffer: UnsafeMutableRawPointer?,
                                     _ capacity: Int, _ written: UnsafeMutablePointer<Int>?, _ error: UnsafeMutablePointer<swamqp_error>?) -> Int32 {
    written?.pointee = 0
    let encoded: ArraySlice<UInt8>
    do throws(InvalidArgument) {
        encoded = try encodedProperties(properties)
    } catch let invalid {
        return report(.invalidArgument, invalid.message, error)
    }
    return copyOut(Array(encoded), buffer, capacity, written, error)
}

@_cdecl("swamqp_properties_decode")
public func swamqp_properties_decode(_ bytes: UnsafeRawPointer?, _ len: Int,
                                     _ properties: UnsafeMutablePointer<UnsafePointer<swamqp_properties>?>?, _ error: UnsafeMutablePointer<swamqp_error>?) -> Int32 {
    guard let properties else { return report(.invalidArgument, "properties must not be NULL", error) }
    properties.pointee = nil
    let decoded: BasicProperties
    do throws(InvalidArgument) {
        let encoded = try input(bytes, len)
        do {
            decoded = try ContentHeader(bodySize: 0, encodedProperties: encoded).decodeProperties()
        } catch {
            throw InvalidArgument(message: "properties: \(error)")
        }
    } catch let invalid {
        return report(.invalidArgument, invalid.message, error)
    }
    let arena = Arena()
    guard let result = arena.allocate(swamqp_properties.self, count: 1) else {
        return report(status: SWAMQP_ERR_NO_MEMORY, "out of memory", error)
    }
    result.pointee = arena.cProperties(decoded)
    properties.pointee = keep(result, arena)
    clear(error)
    return SWAMQP_OK.rawValue
}

@_cdecl("swamqp_decoded_free")
public func swamqp_decoded_free(_ decoded: UnsafeRawPointer?) -> Int32 {
    guard let decoded else { return SWAMQP_OK.rawValue }
    let arena = liveDecoded.withLock { $0.removeValue(forKey: UInt(bitPattern: decoded)) }
    return arena == nil ? SWAMQP_ERR_INVALID_HANDLE.rawValue : SWAMQP_OK.rawValue
}
