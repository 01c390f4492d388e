#if canImport(Glibc)
import Glibc
#endif
import AMQPEngine
import AMQPTransport
import AMQPWire
import CShim
import CSwiftAMQPAPI

private let defaultHost: StaticString = "localhost"
private let defaultVhost: StaticString = "/"
private let defaultGuest: StaticString = "guest"

private func cString(_ s: StaticString) -> UnsafePointer<CChar> {
    UnsafeRawPointer(s.utf8Start).assumingMemoryBound(to: CChar.self)
}

@_cdecl("swamqp_connection_options_init")
public func swamqp_connection_options_init(_ options: UnsafeMutablePointer<swamqp_connection_options>?) {
    guard let options else { return }
    let defaults = ConnectionConfiguration()
    var o = swamqp_connection_options()
    o.host = cString(defaultHost)
    o.port = defaults.port
    o.vhost = cString(defaultVhost)
    o.user = cString(defaultGuest)
    o.password = cString(defaultGuest)
    o.heartbeat = defaults.heartbeat
    o.frame_max = defaults.frameMax
    o.channel_max = defaults.channelMax
    o.connect_timeout_ms = defaults.connectTimeoutMs
    o.connection_name = nil
    o.max_message_size = defaults.maxMessageSize
    o.event_queue_limit = defaults.eventQueueLimit
    o.outbound_limit = defaults.outboundLimit
    o.auth_mechanism = Int32(SWAMQP_AUTH_AUTO.rawValue)
    o.max_unconfirmed = defaults.maxUnconfirmed
    o.socket_fd = -1
    o.recovery_initial_delay_ms = RecoveryPolicy().initialDelayMs
    o.recovery_max_delay_ms = RecoveryPolicy().maxDelayMs
    options.pointee = o
}

/// Storage for what swamqp_parse_url and swamqp_parse_url_list hand out: one block per thread
/// (strings, then `endpointCount` endpoint structs), replaced by the thread's next call.
private func keepURLStrings(_ strings: [String], endpointCount: Int = 0)
    -> (strings: [UnsafePointer<CChar>], endpoints: UnsafeMutablePointer<swamqp_endpoint>?)? {
    if let previous = swiftamqp_shim_thread_slot() { free(previous) }
    swiftamqp_shim_set_thread_slot(nil)
    let endpointBytes = endpointCount * MemoryLayout<swamqp_endpoint>.stride
    let total = endpointBytes + strings.reduce(0) { $0 + $1.utf8.count + 1 }
    guard let raw = malloc(max(total, 1)) else { return nil }
    swiftamqp_shim_set_thread_slot(raw)
    // Endpoints first: malloc's alignment suits them; the strings follow.
    let endpoints = endpointCount > 0 ? raw.bindMemory(to: swamqp_endpoint.self, capacity: endpointCount) : nil
    let block = (raw + endpointBytes).assumingMemoryBound(to: CChar.self)
    var offset = 0
    var pointers: [UnsafePointer<CChar>] = []
    for string in strings {
        let start = block + offset
        for byte in string.utf8 {
            block[offset] = CChar(bitPattern: byte)
            offset += 1
        }
        block[offset] = 0
        offset += 1
        pointers.append(UnsafePointer(start))
    }
    return (pointers, endpoints)
}

/// Applies a parsed URL to `options`; `extraHosts` become endpoints (host, port).
private func apply(_ parsed: AMQPURL, extra: [AMQPURL], to options: UnsafeMutablePointer<swamqp_connection_options>,
                   _ error: UnsafeMutablePointer<swamqp_error>?) -> Int32 {
    let fields = [parsed.host, parsed.virtualHost, parsed.user, parsed.password,
                  parsed.caFile, parsed.certificateFile, parsed.keyFile, parsed.serverName]
    let present = fields.compactMap { $0 }
    let extraHosts = extra.map { $0.host ?? "localhost" }
    guard let kept = keepURLStrings(present + extraHosts, endpointCount: extra.count) else {
        return report(status: SWAMQP_ERR_NO_MEMORY, "out of memory", error)
    }
    var next = kept.strings.makeIterator()
    if parsed.host != nil { options.pointee.host = next.next() }
    if parsed.virtualHost != nil { options.pointee.vhost = next.next() }
    if parsed.user != nil { options.pointee.user = next.next() }
    if parsed.password != nil { options.pointee.password = next.next() }
    if parsed.caFile != nil { options.pointee.tls_ca_file = next.next() }
    if parsed.certificateFile != nil { options.pointee.tls_cert_file = next.next() }
    if parsed.keyFile != nil { options.pointee.tls_key_file = next.next() }
    if let name = parsed.serverName {
        options.pointee.tls_server_name = next.next()
        if name.isEmpty { options.pointee.tls_insecure_skip_hostname_check = true }
    }
    if parsed.tls {
        options.pointee.tls = true
        if parsed.port == nil { options.pointee.port = 5671 }
    }
    if let skip = parsed.skipVerify { options.pointee.tls_insecure_skip_verify = skip }
    switch parsed.authMechanism {
    case .plain?: options.pointee.auth_mechanism = Int32(SWAMQP_AUTH_PLAIN.rawValue)
    case .amqplain?: options.pointee.auth_mechanism = Int32(SWAMQP_AUTH_AMQPLAIN.rawValue)
    case .external?: options.pointee.auth_mechanism = Int32(SWAMQP_AUTH_EXTERNAL.rawValue)
    case .auto?, nil: break
    }
    if let port = parsed.port { options.pointee.port = port }
    if let v = parsed.heartbeat { options.pointee.heartbeat = v }
    if let v = parsed.frameMax { options.pointee.frame_max = v }
    if let v = parsed.channelMax { options.pointee.channel_max = v }
    if let v = parsed.connectTimeoutMs { options.pointee.connect_timeout_ms = v }
    if let endpoints = kept.endpoints {
        for (index, url) in extra.enumerated() {
            endpoints[index] = swamqp_endpoint(host: next.next(), port: url.port ?? (url.tls ? 5671 : 5672))
        }
        options.pointee.endpoints = UnsafePointer(endpoints)
        options.pointee.endpoint_count = extra.count
    }
    clear(error)
    return SWAMQP_OK.rawValue
}

@_cdecl("swamqp_parse_url")
public func swamqp_parse_url(_ url: UnsafePointer<CChar>?, _ options: UnsafeMutablePointer<swamqp_connection_options>?,
                             _ error: UnsafeMutablePointer<swamqp_error>?) -> Int32 {
    guard let text = string(url) else { return report(.invalidArgument, "url must not be NULL", error) }
    guard let options else { return report(.invalidArgument, "options must not be NULL", error) }
    switch AMQPURL.parse(text) {
    case .failure(let failure):
        return report(failure, error)
    case .success(let parsed):
        return apply(parsed, extra: [], to: options, error)
    }
}

@_cdecl("swamqp_parse_url_list")
public func swamqp_parse_url_list(_ urls: UnsafePointer<CChar>?, _ options: UnsafeMutablePointer<swamqp_connection_options>?,
                                  _ error: UnsafeMutablePointer<swamqp_error>?) -> Int32 {
    guard let text = string(urls) else { return report(.invalidArgument, "urls must not be NULL", error) }
    guard let options else { return report(.invalidArgument, "options must not be NULL", error) }
    let items = text.split(whereSeparator: { $0 == "," || $0 == " " || $0 == "\n" || $0 == "\t" }).map(String.init)
    guard !items.isEmpty else { return report(.invalidArgument, "invalid AMQP URL list: it is empty", error) }
    var parsed: [AMQPURL] = []
    for (index, item) in items.enumerated() {
        switch AMQPURL.parse(item) {
        case .success(let url): parsed.append(url)
        case .failure(let failure):
            var failure = failure
            failure.message = "URL \(index + 1) of the list: \(failure.message)"
            return report(failure, error)
        }
    }
    let status = apply(parsed[0], extra: Array(parsed.dropFirst()), to: options, error)
    if status == SWAMQP_OK.rawValue { options.pointee.automatic_recovery = true }
    return status
}

private func configuration(from options: swamqp_connection_options) -> ConnectionConfiguration {
    var c = ConnectionConfiguration()
    c.host = string(options.host) ?? c.host
    c.port = options.port == 0 ? c.port : options.port
    c.virtualHost = string(options.vhost) ?? c.virtualHost
    c.user = string(options.user) ?? c.user
    c.password = string(options.password) ?? c.password
    c.heartbeat = options.heartbeat
    c.frameMax = options.frame_max
    c.channelMax = options.channel_max
    c.connectTimeoutMs = options.connect_timeout_ms == 0 ? c.connectTimeoutMs : options.connect_timeout_ms
    c.connectionName = string(options.connection_name)
    c.maxMessageSize = options.max_message_size == 0 ? c.maxMessageSize : options.max_message_size
    c.eventQueueLimit = options.event_queue_limit == 0 ? c.eventQueueLimit : options.event_queue_limit
    c.outboundLimit = options.outbound_limit == 0 ? c.outboundLimit : options.outbound_limit
    c.maxUnconfirmed = options.max_unconfirmed
    switch options.auth_mechanism {
    case Int32(SWAMQP_AUTH_PLAIN.rawValue): c.authMechanism = .plain
    case Int32(SWAMQP_AUTH_AMQPLAIN.rawValue): c.authMechanism = .amqplain
    case Int32(SWAMQP_AUTH_EXTERNAL.rawValue): c.authMechanism = .external
    default: c.authMechanism = .auto
    }
    if options.automatic_recovery {
        var policy = RecoveryPolicy()
        if options.recovery_initial_delay_ms > 0 { policy.initialDelayMs = options.recovery_initial_delay_ms }
        if options.recovery_max_delay_ms > 0 { policy.maxDelayMs = options.recovery_max_delay_ms }
        policy.maxAttempts = options.recovery_max_attempts
        c.recovery = policy
    }
    if let list = options.endpoints {
        c.endpoints = (0..<options.endpoint_count).compactMap { index in
            string(list[index].host).map { Endpoint(host: $0, port: list[index].port == 0 ? 5672 : list[index].port) }
        }
    }
    if options.tls {
        var tls = TLSConfiguration()
        tls.caFile = string(options.tls_ca_file)
        tls.caDirectory = string(options.tls_ca_dir)
        if let list = options.tls_ca_certificates {
            tls.caCertificates = (0..<options.tls_ca_certificate_count).map { index in
                let blob = list[index]
                guard let base = blob.bytes else { return [] }
                return Array(UnsafeRawBufferPointer(start: base, count: blob.len))
            }
        }
        tls.certificateFile = string(options.tls_cert_file)
        tls.keyFile = string(options.tls_key_file)
        tls.keyPassword = string(options.tls_key_password)
        tls.serverName = string(options.tls_server_name)
        tls.ciphers = string(options.tls_ciphers)
        tls.insecureSkipVerify = options.tls_insecure_skip_verify
        tls.insecureSkipHostnameCheck = options.tls_insecure_skip_hostname_check
        c.tls = tls
    }
    c.socketFD = options.socket_fd
    return c
}

/// The most endpoints and in-memory CA certificates a connection takes (documented in the header).
let optionListLimit = 1024

/// The options' arrays: counts within `optionListLimit`, no NULL array with a count, no NULL host,
/// no empty certificate. After this, `configuration(from:)` may walk them.
private func checkLists(_ options: swamqp_connection_options) throws(InvalidArgument) {
    let certificates = try checkedLength(options.tls_ca_certificate_count, "tls_ca_certificate_count", limit: optionListLimit)
    if certificates > 0 {
        guard let list = options.tls_ca_certificates else {
            throw InvalidArgument(message: "tls_ca_certificates is NULL with a count of \(certificates)")
        }
        for index in 0..<certificates {
            guard try buffer(list[index], "tls_ca_certificates[\(index)]").count > 0 else {
                throw InvalidArgument(message: "tls_ca_certificates[\(index)] is empty")
            }
        }
    }
    let endpoints = try checkedLength(options.endpoint_count, "endpoint_count", limit: optionListLimit)
    if endpoints > 0 {
        guard let list = options.endpoints else { throw InvalidArgument(message: "endpoints is NULL with a count of \(endpoints)") }
        for index in 0..<endpoints where list[index].host == nil {
            throw InvalidArgument(message: "endpoints[\(index)].host is NULL")
        }
    }
}

@_cdecl("swamqp_connection_create")
public func swamqp_connection_create(_ options: UnsafePointer<swamqp_connection_options>?,
                                     _ out: UnsafeMutablePointer<OpaquePointer?>?,
                                     _ error: UnsafeMutablePointer<swamqp_error>?) -> Int32 {
    guard let out else { return report(.invalidArgument, "out must not be NULL", error) }
    out.pointee = nil
    guard let options else { return report(.invalidArgument, "options must not be NULL", error) }
    do throws(InvalidArgument) {
        try checkLists(options.pointee)
    } catch let invalid {
        return report(.invalidArgument, invalid.message, error)
    }
    guard (0...3).contains(options.pointee.auth_mechanism) else {
        return report(.invalidArgument, "auth_mechanism \(options.pointee.auth_mechanism) is not a swamqp_auth_mechanism", error)
    }
    let config = configuration(from: options.pointee)
    if let problem = config.validate() { return report(.invalidArgument, problem, error) }
    guard let connection = Connection(configuration: config) else {
        return report(.io, "could not create the connection's event descriptors: \(String(cString: strerror(errno)))", error)
    }
    out.pointee = token(for: ConnectionHandle(connection: connection))
    clear(error)
    return SWAMQP_OK.rawValue
}

@_cdecl("swamqp_connection_open")
public func swamqp_connection_open(_ pointer: OpaquePointer?, _ error: UnsafeMutablePointer<swamqp_error>?) -> Int32 {
    withHandle(pointer, error) { handle in
        if let status = inCallbackError(error) { return status }
        let connection = handle.connection
        let id = connection.registerBlockingRequest()
        if let failure = connection.open(request: id) { return report(failure, error) }
        // The I/O thread enforces the connect timeout; the margin only covers its last step.
        switch connection.wait(for: id, timeoutMs: Timeout.adding(1000, to: connection.configuration.connectTimeoutMs)) {
        case .success:
            clear(error)
            return SWAMQP_OK.rawValue
        case .failure(let failure):
            // A connection reported as failed must not open later behind the caller's back.
            if failure.kind == .timeout { connection.abandonOpen() }
            return report(failure, error)
        }
    }
}

@_cdecl("swamqp_connection_open_async")
public func swamqp_connection_open_async(_ pointer: OpaquePointer?, _ requestID: UnsafeMutablePointer<UInt64>?,
                                         _ error: UnsafeMutablePointer<swamqp_error>?) -> Int32 {
    withHandle(pointer, error) { handle in
        guard let requestID else { return report(.invalidArgument, "request_id must not be NULL", error) }
        let id = handle.connection.newOpenRequest()
        if let failure = handle.connection.open(request: id) { return report(failure, error) }
        requestID.pointee = id
        clear(error)
        return SWAMQP_OK.rawValue
    }
}

@_cdecl("swamqp_connect")
public func swamqp_connect(_ options: UnsafePointer<swamqp_connection_options>?, _ out: UnsafeMutablePointer<OpaquePointer?>?,
                           _ error: UnsafeMutablePointer<swamqp_error>?) -> Int32 {
    let created = swamqp_connection_create(options, out, error)
    guard created == SWAMQP_OK.rawValue, let handle = out?.pointee else { return created }
    let opened = swamqp_connection_open(handle, error)
    if opened != SWAMQP_OK.rawValue {
        _ = swamqp_connection_free(handle)
        out?.pointee = nil
    }
    return opened
}

@_cdecl("swamqp_connection_close")
public func swamqp_connection_close(_ pointer: OpaquePointer?, _ timeoutMs: UInt32,
                                    _ error: UnsafeMutablePointer<swamqp_error>?) -> Int32 {
    withHandle(pointer, error) { handle in
        // The engine closes the socket at `timeoutMs`; the wait allows a second more for that.
        call(handle, .blocking(timeoutMs: Timeout.adding(1000, to: timeoutMs)), error, .closeConnection(timeoutMs: timeoutMs))
    }
}

@_cdecl("swamqp_connection_close_async")
public func swamqp_connection_close_async(_ pointer: OpaquePointer?, _ requestID: UnsafeMutablePointer<UInt64>?,
                                          _ error: UnsafeMutablePointer<swamqp_error>?) -> Int32 {
    withHandle(pointer, error) { handle in
        call(handle, .async(requestID), error, .closeConnection(timeoutMs: ConnectionStateMachine.defaultCloseTimeoutMs))
    }
}

@_cdecl("swamqp_connection_free")
public func swamqp_connection_free(_ pointer: OpaquePointer?) -> Int32 {
    guard let pointer else { return SWAMQP_OK.rawValue }
    // A callback reads its own connection's batch; another connection may be freed from it.
    guard swiftamqp_shim_callback_connection() != UnsafeRawPointer(pointer) else { return SWAMQP_ERR_IN_CALLBACK.rawValue }
    // The parent owns the thread and socket of a handle made before fork(): the child leaves them,
    // and the handle, alone.
    if case .failed(let status) = resolve(pointer) { return status }
    let tokenValue = UInt(bitPattern: Int(bitPattern: UnsafeRawPointer(pointer)))
    guard let handle = handles.withLock({ $0.remove(tokenValue) }) else { return SWAMQP_ERR_INVALID_HANDLE.rawValue }
    let connection = handle.connection
    connection.closeBeforeFree()
    connection.shutdown()
    handle.state.withLock { $0.batch = nil }
    return SWAMQP_OK.rawValue
}

@_cdecl("swamqp_connection_is_open")
public func swamqp_connection_is_open(_ pointer: OpaquePointer?) -> Bool {
    if case .found(let handle) = resolve(pointer) { return handle.connection.isOpen }
    return false
}

@_cdecl("swamqp_connection_tune")
public func swamqp_connection_tune(_ pointer: OpaquePointer?, _ channelMax: UnsafeMutablePointer<UInt16>?,
                                   _ frameMax: UnsafeMutablePointer<UInt32>?, _ heartbeat: UnsafeMutablePointer<UInt16>?) -> Int32 {
    withHandle(pointer, nil) { handle in
        guard let channelMax, let frameMax, let heartbeat else { return SWAMQP_ERR_INVALID_ARGUMENT.rawValue }
        let tune = handle.connection.tune
        channelMax.pointee = tune.channelMax
        frameMax.pointee = tune.frameMax
        heartbeat.pointee = tune.heartbeat
        return SWAMQP_OK.rawValue
    }
}

// MARK: - Sized options (see the header's "Sized forms")

/// The smallest swamqp_connection_options a caller may pass to a _sized function: the struct as the
/// first release (0.1) defined it. A release that appends fields keeps this value.
private let firstReleaseOptionsSize = 224

/// Why `size` is not a size of swamqp_connection_options this library can read, or nil.
private func optionsSizeRefusal(_ size: Int) -> String? {
    let known = MemoryLayout<swamqp_connection_options>.size
    if size < 0 { return "options_size is past the range of sizes (2^63 or more)" }
    if size < firstReleaseOptionsSize { return "options_size \(size) is smaller than any swamqp_connection_options (\(firstReleaseOptionsSize) bytes)" }
    if size > known { return "options_size \(size) is larger than this library's swamqp_connection_options (\(known) bytes): the program was built against a newer swiftamqp.h" }
    return nil
}

/// The caller's `size` bytes of options over this library's defaults, handed to `body` (the plain
/// create or connect); a size this library cannot read is refused first.
private func withCallersOptions(_ options: UnsafePointer<swamqp_connection_options>?, size: Int,
                                _ out: UnsafeMutablePointer<OpaquePointer?>?, _ error: UnsafeMutablePointer<swamqp_error>?,
                                _ body: (UnsafePointer<swamqp_connection_options>?) -> Int32) -> Int32 {
    out?.pointee = nil
    guard let options else { return body(nil) } // the plain call reports the NULL
    if let refusal = optionsSizeRefusal(size) { return report(.invalidArgument, refusal, error) }
    var full = swamqp_connection_options()
    swamqp_connection_options_init(&full)
    // size is at most the struct's (optionsSizeRefusal), so the copy fits.
    withUnsafeMutableBytes(of: &full) { $0.copyMemory(from: UnsafeRawBufferPointer(start: options, count: size)) }
    return body(&full)
}

@_cdecl("swamqp_connection_options_size")
public func swamqp_connection_options_size() -> Int {
    MemoryLayout<swamqp_connection_options>.size
}

@_cdecl("swamqp_connection_options_init_sized")
public func swamqp_connection_options_init_sized(_ options: UnsafeMutablePointer<swamqp_connection_options>?, _ size: Int) -> Int32 {
    guard let options, optionsSizeRefusal(size) == nil else { return SWAMQP_ERR_INVALID_ARGUMENT.rawValue }
    var full = swamqp_connection_options()
    swamqp_connection_options_init(&full)
    // size is at most the struct's (optionsSizeRefusal): the slice and the copy fit.
    withUnsafeBytes(of: &full) { UnsafeMutableRawBufferPointer(start: options, count: size).copyMemory(from: UnsafeRawBufferPointer(rebasing: $0[0..<size])) }
    return SWAMQP_OK.rawValue
}

@_cdecl("swamqp_connection_create_sized")
public func swamqp_connection_create_sized(_ options: UnsafePointer<swamqp_connection_options>?, _ size: Int,
                                           _ out: UnsafeMutablePointer<OpaquePointer?>?,
                                           _ error: UnsafeMutablePointer<swamqp_error>?) -> Int32 {
    withCallersOptions(options, size: size, out, error) { swamqp_connection_create($0, out, error) }
}

@_cdecl("swamqp_connect_sized")
public func swamqp_connect_sized(_ options: UnsafePointer<swamqp_connection_options>?, _ size: Int,
                                 _ out: UnsafeMutablePointer<OpaquePointer?>?,
                                 _ error: UnsafeMutablePointer<swamqp_error>?) -> Int32 {
    withCallersOptions(options, size: size, out, error) { swamqp_connect($0, out, error) }
}
