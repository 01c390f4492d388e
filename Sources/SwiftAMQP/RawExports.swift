#if canImport(Glibc)
import Glibc
#endif
import AMQPEngine
import AMQPTransport
import AMQPWire
import CSwiftAMQPAPI

@_cdecl("swamqp_channel_set_raw")
public func swamqp_channel_set_raw(_ c: OpaquePointer?, _ channel: UInt16, _ raw: Bool) -> Int32 {
    withHandle(c, nil) { handle in
        let failure = handle.connection.setRaw(channel, raw)
        return failure?.kind.status.rawValue ?? SWAMQP_OK.rawValue
    }
}

/// Decodes the caller's encoded arguments as method `classID`.`methodID`, so nothing malformed is sent.
private func decodeRaw(_ classID: UInt16, _ methodID: UInt16, _ arguments: swamqp_bytes) throws(InvalidArgument) -> Method {
    let encoded = try bytes(arguments, "arguments")
    var reader = ByteReader(encoded)
    do {
        return try Method.decode(classID: classID, methodID: methodID, from: &reader)
    } catch {
        throw InvalidArgument(message: "the arguments do not encode method \(classID).\(methodID): \(error)")
    }
}

@_cdecl("swamqp_send_method")
public func swamqp_send_method(_ c: OpaquePointer?, _ channel: UInt16, _ classID: UInt16, _ methodID: UInt16,
                               _ arguments: swamqp_bytes, _ error: UnsafeMutablePointer<swamqp_error>?) -> Int32 {
    withHandle(c, error) { handle in
        let method: Method
        do throws(InvalidArgument) {
            method = try decodeRaw(classID, methodID, arguments)
            if method.hasContent { throw InvalidArgument(message: "\(method.name) carries content: use swamqp_send_content") }
        } catch let invalid {
            return report(.invalidArgument, invalid.message, error)
        }
        let failure = handle.connection.sendRaw(method, channel: channel)
        if let failure { return report(failure, error) }
        clear(error)
        return SWAMQP_OK.rawValue
    }
}

@_cdecl("swamqp_send_content")
public func swamqp_send_content(_ c: OpaquePointer?, _ channel: UInt16, _ classID: UInt16, _ methodID: UInt16,
                                _ arguments: swamqp_bytes, _ props: UnsafePointer<swamqp_properties>?, _ body: swamqp_bytes,
                                _ error: UnsafeMutablePointer<swamqp_error>?) -> Int32 {
    withHandle(c, error) { handle in
        let method: Method
        let basicProperties: BasicProperties
        let content: UnsafeRawBufferPointer
        do throws(InvalidArgument) {
            method = try decodeRaw(classID, methodID, arguments)
            basicProperties = try properties(props)
            content = try messageBody(body, handle)
        } catch let invalid {
            return report(.invalidArgument, invalid.message, error)
        }
        let failure = handle.connection.sendRawContent(method, properties: basicProperties, body: content, channel: channel)
        if let failure { return report(failure, error) }
        clear(error)
        return SWAMQP_OK.rawValue
    }
}
