import AMQPWire

/// Everything a connection needs to know before it connects. Validated by `validate()`.
public struct ConnectionConfiguration: Sendable {
    public var host = "localhost"
    public var port: UInt16 = 5672
    public var virtualHost = "/"
    public var user = "guest"
    /// Never logged or put into error texts.
    public var password = "guest"
    /// Seconds we propose; 0 asks for no heartbeats (see `TuneNegotiation`).
    public var heartbeat: UInt16 = 60
    public var frameMax: UInt32 = 131_072
    public var channelMax: UInt16 = 2047
    public var connectTimeoutMs: UInt32 = 30_000
    public var connectionName: String?
    public var maxMessageSize: UInt64 = 128 * 1024 * 1024
    public var eventQueueLimit: UInt64 = 64 * 1024 * 1024
    public var outboundLimit: UInt64 = 16 * 1024 * 1024
    public var authMechanism: AuthMechanism = .auto
    /// Automatic recovery: reconnect and restore topology after an unexpected loss; nil: off.
    public var recovery: RecoveryPolicy?
    /// Further hosts to try, after `host`:`port`, when connecting or recovering.
    public var endpoints: [Endpoint] = []
    /// TLS settings; nil for a plain TCP connection.
    public var tls: TLSConfiguration?
    /// Per channel in confirm mode: publishing waits while this many publishes await confirms (0: no bound).
    public var maxUnconfirmed: UInt32 = 10_000
    /// An already connected socket to use instead of connecting, or -1.
    public var socketFD: Int32 = -1

    public init() {}

    /// Nil when usable, else what is wrong.
    public func validate() -> String? {
        if frameMax != 0 && frameMax < 4096 { return "frame_max \(frameMax) is below the minimum of 4096" }
        if host.isEmpty && socketFD < 0 { return "host is empty" }
        if virtualHost.utf8.count > 255 { return "vhost is longer than 255 bytes" }
        if let name = connectionName, name.utf8.count > 65535 { return "connection_name is too long" }
        return nil
    }

    /// The client properties sent in connection.start-ok, with the capabilities RabbitMQ needs to
    /// see before it sends basic.cancel, connection.blocked and the other extensions.
    public var clientProperties: FieldTable {
        let capabilities: FieldTable = [
            "publisher_confirms": .bool(true),
            "exchange_exchange_bindings": .bool(true),
            "basic.nack": .bool(true),
            "consumer_cancel_notify": .bool(true),
            "connection.blocked": .bool(true),
            "authentication_failure_close": .bool(true),
            "per_consumer_qos": .bool(true),
            "direct_reply_to": .bool(true),
        ]
        var table: FieldTable = [
            "product": .longString("swiftamqp"),
            "version": .longString(Bytes(swiftAMQPVersion)),
            "platform": .longString("Swift"),
            "information": .longString("AMQP 0-9-1 client engine for C and Python"),
            "capabilities": .table(capabilities),
        ]
        if let connectionName {
            table.entries.append(.init(key: "connection_name", value: .longString(Bytes(connectionName))))
        }
        return table
    }
}

/// The SASL mechanism to log in with. `auto` takes EXTERNAL when a client certificate is
/// configured and the broker offers it, else PLAIN when offered, else AMQPLAIN.
public enum AuthMechanism: Sendable {
    case auto, plain, amqplain, external
}

/// TLS through the system OpenSSL. Verification of the peer and of its host name is on unless
/// switched off by the loudly named flags.
public struct TLSConfiguration: Sendable {
    public var caFile: String?
    public var caDirectory: String?
    /// DER certificates to trust, in memory (as Python's SSLContext.get_ca_certs gives them).
    public var caCertificates: [[UInt8]] = []
    public var certificateFile: String?
    public var keyFile: String?
    /// Used only while loading the key; never logged.
    public var keyPassword: String?
    /// SNI and the name the certificate must carry; nil means the host.
    public var serverName: String?
    public var ciphers: String?
    public var insecureSkipVerify = false
    public var insecureSkipHostnameCheck = false

    public init() {}
}

/// The library version, kept equal to SWAMQP_VERSION_STRING in include/swiftamqp.h (a test checks).
public var swiftAMQPVersion: String { "0.1.0" } // computed: see protocolHeader

/// The rule for connection.tune, where 0 means "no limit" or, for heartbeats, "off".
///
/// - channel_max and frame_max: when one side says 0 the other side's value holds; when both give a
///   value the smaller wins; both 0 gives 65535 channels (frame_max is never 0 on our side).
/// - heartbeat: a client 0 turns heartbeats off (the user asked for none, as librabbitmq does); a
///   server 0 leaves the client's value; otherwise the smaller wins.
public enum TuneNegotiation {
    public static func limit<T: FixedWidthInteger>(client: T, server: T, unlimited: T) -> T {
        if client == 0 && server == 0 { return unlimited }
        if client == 0 { return server }
        if server == 0 { return client }
        return Swift.min(client, server)
    }

    public static func heartbeat(client: UInt16, server: UInt16) -> UInt16 {
        if client == 0 { return 0 }
        if server == 0 { return client }
        return Swift.min(client, server)
    }
}
