import AMQPWire

/// An error of the tool: bad JSON, a field of the wrong type, a frame that does not decode.
struct ToolError: Error, CustomStringConvertible {
    var description: String
    init(_ description: String) { self.description = description }
}

// MARK: - Parsed JSON

/// A parsed JSON value. Strings are kept as the UTF-8 bytes they stand for and numbers as their
/// literal text, so 64-bit integers are read exactly (never through a Double).
enum JSONValue {
    case null
    case bool(Bool)
    case number(String)
    case string([UInt8])
    case array([JSONValue])
    case object([(key: String, value: JSONValue)])

    var kindName: String {
        switch self {
        case .null: return "null"
        case .bool: return "a boolean"
        case .number: return "a number"
        case .string: return "a string"
        case .array: return "an array"
        case .object: return "an object"
        }
    }
}

/// A strict RFC 8259 parser for one JSON text (one line of the encode input).
struct JSONParser {
    private let bytes: [UInt8]
    private var position = 0
    /// Deeper input is refused rather than risking the stack.
    static let maxDepth = 512

    private init(_ bytes: [UInt8]) { self.bytes = bytes }

    static func parse(_ bytes: [UInt8]) throws -> JSONValue {
        var parser = JSONParser(bytes)
        let value = try parser.value(depth: 0)
        parser.skipSpace()
        guard parser.position == bytes.count else { throw parser.error("text after the JSON value") }
        return value
    }

    private func error(_ what: String) -> ToolError {
        ToolError("JSON: \(what) at byte \(position)")
    }

    private mutating func skipSpace() {
        while position < bytes.count {
            switch bytes[position] {
            case 0x20, 0x09, 0x0A, 0x0D: position += 1
            default: return
            }
        }
    }

    private mutating func literal(_ word: String, _ value: JSONValue) throws -> JSONValue {
        let w = Array(word.utf8)
        guard bytes.count - position >= w.count, Array(bytes[position..<position + w.count]) == w else {
            throw error("unexpected character")
        }
        position += w.count
        return value
    }

    private mutating func value(depth: Int) throws -> JSONValue {
        guard depth < JSONParser.maxDepth else { throw error("nesting deeper than \(JSONParser.maxDepth)") }
        skipSpace()
        guard position < bytes.count else { throw error("unexpected end") }
        switch bytes[position] {
        case UInt8(ascii: "{"):
            position += 1
            var members: [(key: String, value: JSONValue)] = []
            skipSpace()
            if position < bytes.count, bytes[position] == UInt8(ascii: "}") { position += 1; return .object(members) }
            while true {
                skipSpace()
                guard position < bytes.count, bytes[position] == UInt8(ascii: "\"") else { throw error("expected a member name") }
                let key = String(decoding: try string(), as: UTF8.self)
                skipSpace()
                guard position < bytes.count, bytes[position] == UInt8(ascii: ":") else { throw error("expected ':'") }
                position += 1
                members.append((key, try value(depth: depth + 1)))
                skipSpace()
                guard position < bytes.count else { throw error("unexpected end in an object") }
                if bytes[position] == UInt8(ascii: ",") { position += 1; continue }
                if bytes[position] == UInt8(ascii: "}") { position += 1; return .object(members) }
                throw error("expected ',' or '}'")
            }
        case UInt8(ascii: "["):
            position += 1
            var items: [JSONValue] = []
            skipSpace()
            if position < bytes.count, bytes[position] == UInt8(ascii: "]") { position += 1; return .array(items) }
            while true {
                items.append(try value(depth: depth + 1))
                skipSpace()
                guard position < bytes.count else { throw error("unexpected end in an array") }
                if bytes[position] == UInt8(ascii: ",") { position += 1; continue }
                if bytes[position] == UInt8(ascii: "]") { position += 1; return .array(items) }
                throw error("expected ',' or ']'")
            }
        case UInt8(ascii: "\""):
            return .string(try string())
        case UInt8(ascii: "t"): return try literal("true", .bool(true))
        case UInt8(ascii: "f"): return try literal("false", .bool(false))
        case UInt8(ascii: "n"): return try literal("null", .null)
        default:
            return .number(try number())
        }
    }

    private mutating func number() throws -> String {
        let start = position
        func digits() -> Int {
            let s = position
            while position < bytes.count, bytes[position] >= 0x30, bytes[position] <= 0x39 { position += 1 }
            return position - s
        }
        if position < bytes.count, bytes[position] == UInt8(ascii: "-") { position += 1 }
        let intStart = position
        let n = digits()
        guard n > 0 else { throw error("unexpected character") }
        if n > 1, bytes[intStart] == UInt8(ascii: "0") { throw error("leading zero in a number") }
        if position < bytes.count, bytes[position] == UInt8(ascii: ".") {
            position += 1
            guard digits() > 0 else { throw error("digits expected after '.'") }
        }
        if position < bytes.count, bytes[position] == UInt8(ascii: "e") || bytes[position] == UInt8(ascii: "E") {
            position += 1
            if position < bytes.count, bytes[position] == UInt8(ascii: "+") || bytes[position] == UInt8(ascii: "-") { position += 1 }
            guard digits() > 0 else { throw error("digits expected in an exponent") }
        }
        return String(decoding: bytes[start..<position], as: UTF8.self)
    }

    private mutating func hex4() throws -> UInt32 {
        guard bytes.count - position >= 4 else { throw error("short \\u escape") }
        var v: UInt32 = 0
        for _ in 0..<4 {
            guard let d = hexDigitValue(bytes[position]) else { throw error("bad \\u escape") }
            v = v << 4 | UInt32(d)
            position += 1
        }
        return v
    }

    /// A string literal as UTF-8 bytes. Raw bytes must be well-formed UTF-8; escapes of lone
    /// surrogates are refused (they stand for no UTF-8 text).
    private mutating func string() throws -> [UInt8] {
        position += 1 // opening quote
        var out: [UInt8] = []
        while true {
            guard position < bytes.count else { throw error("unterminated string") }
            let b = bytes[position]
            if b == UInt8(ascii: "\"") { position += 1; break }
            if b < 0x20 { throw error("control character in a string") }
            if b == UInt8(ascii: "\\") {
                position += 1
                guard position < bytes.count else { throw error("unterminated escape") }
                let e = bytes[position]
                position += 1
                switch e {
                case UInt8(ascii: "\""): out.append(0x22)
                case UInt8(ascii: "\\"): out.append(0x5C)
                case UInt8(ascii: "/"): out.append(0x2F)
                case UInt8(ascii: "b"): out.append(0x08)
                case UInt8(ascii: "f"): out.append(0x0C)
                case UInt8(ascii: "n"): out.append(0x0A)
                case UInt8(ascii: "r"): out.append(0x0D)
                case UInt8(ascii: "t"): out.append(0x09)
                case UInt8(ascii: "u"):
                    var scalar = try hex4()
                    if scalar >= 0xD800 && scalar <= 0xDBFF {
                        guard bytes.count - position >= 6, bytes[position] == UInt8(ascii: "\\"),
                              bytes[position + 1] == UInt8(ascii: "u") else { throw error("lone surrogate escape") }
                        position += 2
                        let low = try hex4()
                        guard low >= 0xDC00 && low <= 0xDFFF else { throw error("lone surrogate escape") }
                        scalar = 0x10000 + ((scalar - 0xD800) << 10) + (low - 0xDC00)
                    } else if scalar >= 0xDC00 && scalar <= 0xDFFF {
                        throw error("lone surrogate escape")
                    }
                    appendUTF8(scalar, to: &out)
                default: throw error("unknown escape")
                }
                continue
            }
            // Copy one raw UTF-8 sequence after checking it.
            let length = utf8SequenceLength(bytes, at: position)
            guard length > 0 else { throw error("invalid UTF-8") }
            out.append(contentsOf: bytes[position..<position + length])
            position += length
        }
        return out
    }
}

func hexDigitValue(_ b: UInt8) -> UInt8? {
    switch b {
    case 0x30...0x39: return b - 0x30
    case 0x61...0x66: return b - 0x61 + 10
    case 0x41...0x46: return b - 0x41 + 10
    default: return nil
    }
}

private func appendUTF8(_ scalar: UInt32, to out: inout [UInt8]) {
    switch scalar {
    case 0..<0x80: out.append(UInt8(scalar))
    case 0x80..<0x800:
        out.append(UInt8(0xC0 | scalar >> 6)); out.append(UInt8(0x80 | scalar & 0x3F))
    case 0x800..<0x10000:
        out.append(UInt8(0xE0 | scalar >> 12)); out.append(UInt8(0x80 | scalar >> 6 & 0x3F)); out.append(UInt8(0x80 | scalar & 0x3F))
    default:
        out.append(UInt8(0xF0 | scalar >> 18)); out.append(UInt8(0x80 | scalar >> 12 & 0x3F))
        out.append(UInt8(0x80 | scalar >> 6 & 0x3F)); out.append(UInt8(0x80 | scalar & 0x3F))
    }
}

/// The length of the well-formed UTF-8 sequence at `i` (Unicode 15, table 3-7), or 0 when the bytes
/// there are not one. This is the rule that decides between a JSON string and {"hex": ...}.
func utf8SequenceLength(_ p: UnsafeRawBufferPointer, at i: Int) -> Int {
    let n = p.count - i
    guard n > 0 else { return 0 }
    let b0 = p[i]
    if b0 < 0x80 { return 1 }
    func cont(_ k: Int, _ lo: UInt8 = 0x80, _ hi: UInt8 = 0xBF) -> Bool { k < n && p[i + k] >= lo && p[i + k] <= hi }
    switch b0 {
    case 0xC2...0xDF: return cont(1) ? 2 : 0
    case 0xE0: return cont(1, 0xA0) && cont(2) ? 3 : 0
    case 0xE1...0xEC, 0xEE...0xEF: return cont(1) && cont(2) ? 3 : 0
    case 0xED: return cont(1, 0x80, 0x9F) && cont(2) ? 3 : 0
    case 0xF0: return cont(1, 0x90) && cont(2) && cont(3) ? 4 : 0
    case 0xF1...0xF3: return cont(1) && cont(2) && cont(3) ? 4 : 0
    case 0xF4: return cont(1, 0x80, 0x8F) && cont(2) && cont(3) ? 4 : 0
    default: return 0
    }
}

func utf8SequenceLength(_ bytes: [UInt8], at i: Int) -> Int {
    bytes.withUnsafeBytes { utf8SequenceLength($0, at: i) }
}

func isWellFormedUTF8(_ p: UnsafeRawBufferPointer) -> Bool {
    var i = 0
    while i < p.count {
        let n = utf8SequenceLength(p, at: i)
        if n == 0 { return false }
        i += n
    }
    return true
}

// MARK: - Canonical output

private let hexDigits: [UInt8] = Array("0123456789abcdef".utf8)

/// Writes the canonical JSON form (docs/FRAME-JSON.md): no spaces, members in a fixed order,
/// one escaping rule, so equal frames give identical text.
struct JSONOut {
    var bytes: [UInt8] = []
    private var needsComma: [Bool] = []
    private var afterKey = false

    init() { bytes.reserveCapacity(1 << 16) }

    private mutating func separate() {
        if afterKey { afterKey = false; return }
        if let last = needsComma.last {
            if last { bytes.append(UInt8(ascii: ",")) }
            needsComma[needsComma.count - 1] = true
        }
    }

    mutating func beginObject() { separate(); bytes.append(UInt8(ascii: "{")); needsComma.append(false) }
    mutating func endObject() { needsComma.removeLast(); bytes.append(UInt8(ascii: "}")) }
    mutating func beginArray() { separate(); bytes.append(UInt8(ascii: "[")); needsComma.append(false) }
    mutating func endArray() { needsComma.removeLast(); bytes.append(UInt8(ascii: "]")) }

    mutating func key(_ name: String) {
        separate()
        quoted(name.utf8)
        bytes.append(UInt8(ascii: ":"))
        afterKey = true
    }

    mutating func newline() { bytes.append(0x0A) }

    mutating func null() { separate(); bytes.append(contentsOf: "null".utf8) }
    mutating func bool(_ v: Bool) { separate(); bytes.append(contentsOf: (v ? "true" : "false").utf8) }
    mutating func number<T: BinaryInteger>(_ v: T) { separate(); bytes.append(contentsOf: String(v).utf8) }
    /// A 64-bit integer: always a JSON string of its decimal digits.
    mutating func decimalString<T: BinaryInteger>(_ v: T) { separate(); quoted(String(v).utf8) }
    /// Text known to be plain (names, tags).
    mutating func string(_ s: String) { separate(); quoted(s.utf8) }

    /// Bytes as lowercase hex in a JSON string.
    mutating func hexString(_ p: UnsafeRawBufferPointer) {
        separate()
        bytes.append(UInt8(ascii: "\""))
        for b in p {
            bytes.append(hexDigits[Int(b >> 4)])
            bytes.append(hexDigits[Int(b & 15)])
        }
        bytes.append(UInt8(ascii: "\""))
    }

    mutating func hexBits<T: FixedWidthInteger & UnsignedInteger>(_ v: T) {
        separate()
        bytes.append(UInt8(ascii: "\""))
        var shift = T.bitWidth - 4
        while shift >= 0 {
            bytes.append(hexDigits[Int(truncatingIfNeeded: v >> T(shift)) & 15])
            shift -= 4
        }
        bytes.append(UInt8(ascii: "\""))
    }

    /// An AMQP byte string: a JSON string when the bytes are well-formed UTF-8, else {"hex":"…"}.
    mutating func byteString(_ value: Bytes) {
        value.withUnsafeBytes { p in
            if isWellFormedUTF8(p) {
                separate()
                quoted(p)
            } else {
                beginObject()
                key("hex")
                hexString(p)
                endObject()
            }
        }
    }

    private mutating func quoted<S: Sequence>(_ s: S) where S.Element == UInt8 {
        bytes.append(UInt8(ascii: "\""))
        for b in s {
            switch b {
            case 0x22: bytes.append(0x5C); bytes.append(0x22)
            case 0x5C: bytes.append(0x5C); bytes.append(0x5C)
            case 0x08: bytes.append(0x5C); bytes.append(UInt8(ascii: "b"))
            case 0x0C: bytes.append(0x5C); bytes.append(UInt8(ascii: "f"))
            case 0x0A: bytes.append(0x5C); bytes.append(UInt8(ascii: "n"))
            case 0x0D: bytes.append(0x5C); bytes.append(UInt8(ascii: "r"))
            case 0x09: bytes.append(0x5C); bytes.append(UInt8(ascii: "t"))
            case 0..<0x20:
                bytes.append(contentsOf: "\\u00".utf8)
                bytes.append(hexDigits[Int(b >> 4)])
                bytes.append(hexDigits[Int(b & 15)])
            default: bytes.append(b)
            }
        }
        bytes.append(UInt8(ascii: "\""))
    }
}
