#if canImport(Glibc)
import Glibc
#endif
import AMQPEngine
import AMQPTransport
import AMQPWire
import CShim
import CSwiftAMQPAPI

private func openCommand(_ number: UnsafeMutablePointer<UInt16>?) -> Command {
    { id, engine, out in
        switch engine.openChannel(request: id, into: &out) {
        case .success(let channel): number?.pointee = channel
        case .failure(let failure): out.events.append(.completion(id, channel: 0, .failure(failure)))
        }
    }
}

@_cdecl("swamqp_channel_open")
public func swamqp_channel_open(_ pointer: OpaquePointer?, _ channel: UnsafeMutablePointer<UInt16>?, _ timeoutMs: UInt32,
                                _ error: UnsafeMutablePointer<swamqp_error>?) -> Int32 {
    withHandle(pointer, error) { handle in
        guard let channel else { return report(.invalidArgument, "channel must not be NULL", error) }
        channel.pointee = 0
        var number: UInt16 = 0
        return withUnsafeMutablePointer(to: &number) { numberPointer in
            call(handle, .blocking(timeoutMs: timeoutMs), error, openCommand(numberPointer)) { _ in
                channel.pointee = numberPointer.pointee
                return SWAMQP_OK.rawValue
            }
        }
    }
}

@_cdecl("swamqp_channel_open_async")
public func swamqp_channel_open_async(_ pointer: OpaquePointer?, _ channel: UnsafeMutablePointer<UInt16>?,
                                      _ requestID: UnsafeMutablePointer<UInt64>?, _ error: UnsafeMutablePointer<swamqp_error>?) -> Int32 {
    withHandle(pointer, error) { handle in
        guard let channel else { return report(.invalidArgument, "channel must not be NULL", error) }
        channel.pointee = 0
        return call(handle, .async(requestID), error, openCommand(channel))
    }
}

private func closeCommand(_ channel: UInt16) -> Command {
    { id, engine, out in engine.closeChannel(channel, request: id, into: &out) }
}

@_cdecl("swamqp_channel_close")
public func swamqp_channel_close(_ pointer: OpaquePointer?, _ channel: UInt16, _ timeoutMs: UInt32,
                                 _ error: UnsafeMutablePointer<swamqp_error>?) -> Int32 {
    withHandle(pointer, error) { handle in
        call(handle, .blocking(timeoutMs: timeoutMs), error, closeCommand(channel))
    }
}

@_cdecl("swamqp_channel_close_async")
public func swamqp_channel_close_async(_ pointer: OpaquePointer?, _ channel: UInt16, _ requestID: UnsafeMutablePointer<UInt64>?,
                                       _ error: UnsafeMutablePointer<swamqp_error>?) -> Int32 {
    withHandle(pointer, error) { handle in
        call(handle, .async(requestID), error, closeCommand(channel))
    }
}

@_cdecl("swamqp_channel_flow")
public func swamqp_channel_flow(_ c: OpaquePointer?, _ channel: UInt16, _ active: Bool, _ timeoutMs: UInt32,
                                _ error: UnsafeMutablePointer<swamqp_error>?) -> Int32 {
    channelCall(c, channel, .blocking(timeoutMs: timeoutMs), error, noWait: false) { () throws(InvalidArgument) in
        .channelFlow(ChannelFlow(active: active))
    }
}
