/// The parts of an `amqp://` URL (RabbitMQ's URI spec): user, password, host, port and vhost
/// percent-decoded; no path means vhost "/", a bare "/" means the empty vhost name.
public struct AMQPURL: Equatable, Sendable {
    public var user: String?
    public var password: String?
    public var host: String?
    public var port: UInt16?
    public var virtualHost: String?
    public var heartbeat: UInt16?
    public var frameMax: UInt32?
    public var channelMax: UInt16?
    public var connectTimeoutMs: UInt32?
    /// amqps://
    public var tls = false
    public var authMechanism: AuthMechanism?
    public var caFile: String?
    public var certificateFile: String?
    public var keyFile: String?
    /// verify=verify_none (true) or verify=verify_peer (false); nil when not given.
    public var skipVerify: Bool?
    /// server_name_indication: a name, or "" for "disable".
    public var serverName: String?

    public init() {}

    /// Parses `text`; the error names the part that is wrong.
    public static func parse(_ text: String) -> Result<AMQPURL, AMQPError> {
        func bad(_ why: String) -> Result<AMQPURL, AMQPError> { .failure(AMQPError(.invalidArgument, "invalid AMQP URL: \(why)")) }
        var url = AMQPURL()
        var rest: Substring
        // Schemes are case-insensitive (RFC 3986).
        let lowered = text.prefix(8).lowercased()
        if lowered.hasPrefix("amqp://") {
            rest = Substring(text.dropFirst("amqp://".count))
        } else if lowered.hasPrefix("amqps://") {
            rest = Substring(text.dropFirst("amqps://".count))
            url.tls = true
        } else {
            return bad("the scheme must be amqp:// or amqps://")
        }
        if rest.contains("#") { return bad("a fragment ('#...') has no meaning in an AMQP URL") }
        var query: Substring?
        if let mark = rest.firstIndex(of: "?") {
            query = rest[rest.index(after: mark)...]
            rest = rest[..<mark]
        }
        var path: Substring?
        if let slash = rest.firstIndex(of: "/") {
            path = rest[rest.index(after: slash)...]
            rest = rest[..<slash]
        }
        if let at = rest.lastIndex(of: "@") {
            let userInfo = rest[..<at]
            rest = rest[rest.index(after: at)...]
            let parts = userInfo.split(separator: ":", maxSplits: 1, omittingEmptySubsequences: false)
            switch percentDecode(parts[0], "the user") {
            case .failure(let why): return bad(why.text)
            case .success(let user): url.user = user
            }
            if parts.count == 2 {
                switch percentDecode(parts[1], "the password") {
                case .failure(let why): return bad(why.text)
                case .success(let password): url.password = password
                }
            }
        }
        var hostPart = rest
        if hostPart.hasPrefix("[") {
            guard let close = hostPart.firstIndex(of: "]") else { return bad("the IPv6 address lacks its closing ']'") }
            url.host = String(hostPart[hostPart.index(after: hostPart.startIndex)..<close])
            if url.host?.isEmpty ?? true { return bad("the IPv6 address between '[' and ']' is empty") }
            hostPart = hostPart[hostPart.index(after: close)...]
            if !hostPart.isEmpty && !hostPart.hasPrefix(":") { return bad("unexpected text after the IPv6 address") }
        } else if let colon = hostPart.firstIndex(of: ":") {
            url.host = String(hostPart[..<colon])
            hostPart = hostPart[colon...]
        } else {
            url.host = String(hostPart)
            hostPart = ""
        }
        if hostPart.hasPrefix(":") {
            let digits = hostPart.dropFirst()
            guard !digits.isEmpty, digits.allSatisfy({ $0.isASCII && $0.isNumber }), let port = UInt16(digits), port > 0 else {
                return bad("the port '\(digits)' is not a number from 1 to 65535")
            }
            url.port = port
        }
        if let host = url.host {
            switch percentDecode(Substring(host), "the host") {
            case .failure(let why): return bad(why.text)
            case .success(let decoded): url.host = decoded.isEmpty ? nil : decoded
            }
        }
        if let path {
            guard !path.contains("/") else { return bad("the vhost '\(path)' contains '/' unescaped (write %2f)") }
            switch percentDecode(path, "the vhost") {
            case .failure(let why): return bad(why.text)
            case .success(let vhost): url.virtualHost = vhost
            }
        }
        if let query, !query.isEmpty {
            for pair in query.split(separator: "&") {
                let kv = pair.split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false)
                guard kv.count == 2 else { return bad("query parameter '\(pair)' has no value") }
                let key: String, value: String
                switch (percentDecode(kv[0], "a query parameter name"), percentDecode(kv[1], "the value of '\(kv[0])'")) {
                case (.failure(let why), _), (_, .failure(let why)): return bad(why.text)
                case (.success(let k), .success(let v)):
                    key = k
                    value = v
                }
                switch key {
                case "heartbeat":
                    guard let v = UInt16(value) else { return bad("heartbeat '\(value)' is not a number from 0 to 65535") }
                    url.heartbeat = v
                case "frame_max":
                    guard let v = UInt32(value) else { return bad("frame_max '\(value)' is not a number") }
                    url.frameMax = v
                case "channel_max":
                    guard let v = UInt16(value) else { return bad("channel_max '\(value)' is not a number from 0 to 65535") }
                    url.channelMax = v
                case "connection_timeout":
                    guard let v = UInt32(value) else { return bad("connection_timeout '\(value)' is not a number of milliseconds") }
                    url.connectTimeoutMs = v
                case "auth_mechanism":
                    switch value.lowercased() {
                    case "plain": url.authMechanism = .plain
                    case "amqplain": url.authMechanism = .amqplain
                    case "external": url.authMechanism = .external
                    default: return bad("auth_mechanism '\(value)' is not plain, amqplain or external")
                    }
                case "cacertfile", "certfile", "keyfile", "server_name_indication":
                    guard !value.isEmpty else { return bad("\(key) has an empty value") }
                    switch key {
                    case "cacertfile": url.caFile = value
                    case "certfile": url.certificateFile = value
                    case "keyfile": url.keyFile = value
                    default: url.serverName = value == "disable" ? "" : value
                    }
                case "verify":
                    switch value {
                    case "verify_peer": url.skipVerify = false
                    case "verify_none": url.skipVerify = true
                    default: return bad("verify '\(value)' is not verify_peer or verify_none")
                    }
                default:
                    return bad("unknown query parameter '\(key)'")
                }
            }
        }
        return .success(url)
    }

    /// Percent-decodes `text`, refusing malformed escapes, NUL bytes (C strings would end there)
    /// and invalid UTF-8; the error names `what`.
    private static func percentDecode(_ text: Substring, _ what: String) -> Result<String, URLProblem> {
        var bytes: [UInt8] = []
        var iterator = text.utf8.makeIterator()
        while let byte = iterator.next() {
            if byte == UInt8(ascii: "%") {
                guard let high = iterator.next().flatMap(hexValue), let low = iterator.next().flatMap(hexValue) else {
                    return .failure(URLProblem("\(what) has a malformed percent escape"))
                }
                bytes.append(high << 4 | low)
            } else {
                bytes.append(byte)
            }
        }
        if bytes.contains(0) { return .failure(URLProblem("\(what) contains a NUL byte (%00)")) }
        guard let decoded = String(validating: bytes, as: UTF8.self) else { return .failure(URLProblem("\(what) is not valid UTF-8 once decoded")) }
        return .success(decoded)
    }

    private static func hexValue(_ byte: UInt8) -> UInt8? {
        switch byte {
        case UInt8(ascii: "0")...UInt8(ascii: "9"): return byte - UInt8(ascii: "0")
        case UInt8(ascii: "a")...UInt8(ascii: "f"): return byte - UInt8(ascii: "a") + 10
        case UInt8(ascii: "A")...UInt8(ascii: "F"): return byte - UInt8(ascii: "A") + 10
        default: return nil
        }
    }
}

/// What is wrong with part of a URL, for the error message.
public struct URLProblem: Error, Sendable {
    public let text: String
    init(_ text: String) { self.text = text }
}
