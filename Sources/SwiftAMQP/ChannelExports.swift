#if canImport(Glibc)
import Glibc
#endif
import AMQPEngine
import AMQPTransport
import AMQPWire
import CShim
import CSwiftAMQPAPI

@_cdecl("swamqp_channel_open")
public func swamqp_channel_open(_ pointer: OpaquePointer?, _ channel: UnsafeMutablePointer<UInt16>?, _ timeoutMs: UInt32,
                                _ error: UnsafeMutablePointer<swamqp_error>?) -> Int32 {
    withHandle(pointer, error) { handle in
        guard let channel else { return report(.invalidArgument, "channel must not be NULL", error) }
        channel.pointee = 0
        return call(handle, .blocking(timeoutMs: timeoutMs), error, .openChannel) { reply in
            if case .channelOpened(let number) = reply { channel.pointee = number }
            return SWAMQP_OK.rawValue
        }
    }
}

@_cdecl("swamqp_channel_open_async")
public func swamqp_channel_open_async(_ pointer: OpaquePointer?, _ channel: UnsafeMutablePointer<UInt16>?,
                                      _ requestID: UnsafeMutablePointer<UInt64>?, _ error: UnsafeMutablePointer<swamqp_error>?) -> Int32 {
    withHandle(pointer, error) { handle in
        guard let channel else { return report(.invalidArgument, "channel must not be NULL", error) }
        channel.pointee = 0
        return call(handle, .async(requestID), error, .openChannel, openedChannel: channel)
    }
}

@_cdecl("swamqp_channel_close")
public func swamqp_channel_close(_ pointer: OpaquePointer?, _ channel: UInt16, _ timeoutMs: UInt32,
                                 _ error: UnsafeMutablePointer<swamqp_error>?) -> Int32 {
    withHandle(pointer, error) { handle in
        call(handle, .blocking(timeoutMs: timeoutMs), error, .closeChannel(channel))
    }
}

@_cdecl("swamqp_channel_close_async")
public func swamqp_channel_close_async(_ pointer: OpaquePointer?, _ channel: UInt16, _ requestID: UnsafeMutablePointer<UInt64>?,
                                       _ error: UnsafeMutablePointer<swamqp_error>?) -> Int32 {
    withHandle(pointer, error) { handle in
        call(handle, .async(requestID), error, .closeChannel(channel))
    }
}

@_cdecl("swamqp_channel_flow")
public func swamqp_channel_flow(_ c: OpaquePointer?, _ channel: UInt16, _ active: Bool, _ timeoutMs: UInt32,
                                _ error: UnsafeMutablePointer<swamqp_error>?) -> Int32 {
    channelCall(c, channel, .blocking(timeoutMs: timeoutMs), error, noWait: false) { () throws(InvalidArgument) in
        .channelFlow(ChannelFlow(active: active))
    }
}
