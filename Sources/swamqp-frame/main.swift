// swamqp-frame: AMQP 0-9-1 frames to JSON and back, in batches over stdin/stdout.
// A debugging and test tool built on AMQPWire; never linked into libswiftamqp. The JSON form is
// documented in docs/FRAME-JSON.md.
#if canImport(Glibc)
import Glibc
#endif
import AMQPWire

let usage = """
    usage: swamqp-frame decode [--hex] [--frame-max N]
           swamqp-frame encode [--hex]

    decode  stdin: AMQP frames (binary; with --hex: hex digits, whitespace ignored), optionally
            starting with the 8-byte protocol header. stdout: one JSON object per frame and line.
            A frame whose payload does not decode gives {"type":"error",...} in its place; a
            broken frame boundary (bad end octet, size over --frame-max, truncated stream) ends
            the run. --frame-max defaults to 67108864.
    encode  stdin: one JSON frame object per line (blank lines and lines starting with # are
            skipped). stdout: the frames' bytes (with --hex: one line of hex digits per frame).
            A line that does not encode is reported on stderr with its number and skipped.

    Exit status: 0 when every frame converted, 1 when some did not, 2 for bad usage.
    The JSON form: docs/FRAME-JSON.md.

    """

// MARK: - I/O

/// Writes all of `bytes` to a file descriptor, retrying partial writes.
func writeAll(_ fd: Int32, _ bytes: [UInt8]) {
    bytes.withUnsafeBytes { p in
        var offset = 0
        while offset < p.count, let base = p.baseAddress {
            let n = write(fd, base + offset, p.count - offset)
            if n < 0 {
                if errno == EINTR { continue }
                exit(3) // stdout closed or failing: nothing sensible left to do
            }
            offset += n
        }
    }
}

func printError(_ text: String) {
    writeAll(2, Array("swamqp-frame: \(text)\n".utf8))
}

/// Reads up to `capacity` bytes of stdin into `buffer`; 0 at end of input.
func readStdin(into buffer: UnsafeMutableRawBufferPointer) -> Int {
    guard let base = buffer.baseAddress, buffer.count > 0 else { return 0 }
    while true {
        let n = read(0, base, buffer.count)
        if n >= 0 { return n }
        if errno != EINTR {
            printError("read error \(errno)")
            return 0
        }
    }
}

func readAllStdin() -> [UInt8] {
    var all: [UInt8] = []
    var chunk = [UInt8](repeating: 0, count: 1 << 16)
    while true {
        let n = chunk.withUnsafeMutableBytes { readStdin(into: $0) }
        if n <= 0 { break }
        all.append(contentsOf: chunk[0..<n])
    }
    return all
}

/// Buffered stdout.
struct Output {
    var json = JSONOut()
    mutating func flushIfLarge() {
        if json.bytes.count >= 1 << 16 { flush() }
    }
    mutating func flush() {
        writeAll(1, json.bytes)
        json.bytes.removeAll(keepingCapacity: true)
    }
}

// MARK: - decode

func runDecode(hex: Bool, frameMax: UInt32) -> Int32 {
    var parser = FrameParser(frameMax: frameMax)
    var out = Output()
    var failures = 0
    var atStart = true
    var pending: [UInt8] = [] // bytes held back until the protocol-header question is settled
    var hexInput: [UInt8]? = nil

    if hex {
        var digits = readAllStdin()
        digits.removeAll { $0 == 0x20 || $0 == 0x0A || $0 == 0x0D || $0 == 0x09 }
        guard let bytes = decodeHex(digits) else {
            printError("--hex input is not an even number of hex digits")
            return 1
        }
        hexInput = bytes
    }

    func emitError(_ text: String) {
        out.json.beginObject()
        out.json.key("type"); out.json.string("error")
        out.json.key("error"); out.json.string(text)
        out.json.endObject()
        out.json.newline()
        printError(text)
        failures += 1
    }

    /// Feeds `bytes` into the parser and prints every complete frame; false when the stream broke.
    func feed(_ bytes: [UInt8]) -> Bool {
        var bytes = bytes
        if atStart {
            // A client's stream starts with "AMQP" 0 0 9 1; no frame type is 'A', so 4 bytes decide.
            pending += bytes
            bytes = []
            let n = min(pending.count, 4)
            if pending.prefix(n).elementsEqual(protocolHeader.prefix(n)) {
                if pending.count < 8 { return true } // wait for the rest of it
                out.json.beginObject()
                out.json.key("type"); out.json.string("protocol-header")
                out.json.key("hex")
                pending[0..<8].withUnsafeBytes { out.json.hexString($0) }
                out.json.endObject()
                out.json.newline()
                pending.removeFirst(8)
            }
            atStart = false
            swap(&bytes, &pending)
        }
        do {
            try parser.append(bytes)
        } catch {
            emitError("\(error)")
            return false
        }
        while true {
            do {
                guard let frame = try parser.next() else { return true }
                // Content properties stay encoded in the frame; bad ones are a bad payload.
                if case .header(_, let header) = frame { _ = try header.decodeProperties() }
                out.json.frame(frame)
                out.json.newline()
                out.flushIfLarge()
            } catch let error as WireError {
                switch error {
                case .frameTooLarge, .badFrameEnd, .allocationFailed:
                    emitError("\(error); the frame stream cannot be followed further")
                    return false
                default:
                    emitError("\(error)") // the frame's payload was bad; the next frame follows it
                }
            } catch {
                emitError("\(error)")
                return false
            }
        }
    }

    var intact = true
    if let hexInput {
        intact = feed(hexInput)
    } else {
        var chunk = [UInt8](repeating: 0, count: 1 << 16)
        while intact {
            let n = chunk.withUnsafeMutableBytes { readStdin(into: $0) }
            if n <= 0 { break }
            intact = feed(Array(chunk[0..<n]))
        }
    }
    if intact {
        if atStart, !pending.isEmpty {
            // Fewer than 8 bytes that begin like the protocol header: let the parser judge them.
            atStart = false
            let rest = pending
            pending = []
            intact = feed(rest)
        }
        if intact, parser.bufferedCount > 0 {
            emitError("the input ends inside a frame (\(parser.bufferedCount) bytes left over)")
        }
    }
    out.flush()
    return failures == 0 ? 0 : 1
}

// MARK: - encode

func runEncode(hex: Bool) -> Int32 {
    let input = readAllStdin()
    var failures = 0
    var writer = ByteWriter(capacity: 1 << 16)
    var hexOut = JSONOut()
    var lineNumber = 0
    var start = 0
    while start < input.count {
        var end = start
        while end < input.count && input[end] != 0x0A { end += 1 }
        lineNumber += 1
        let line = input[start..<end]
        start = end + 1
        guard let first = line.first(where: { $0 != 0x20 && $0 != 0x09 && $0 != 0x0D }), first != UInt8(ascii: "#") else {
            continue
        }
        let mark = writer.count
        do {
            let value = try JSONParser.parse(Array(line))
            try encodeFrame(value, into: &writer)
        } catch {
            writer.buffer.removeSubrange(mark...)
            printError("line \(lineNumber): \(error)")
            failures += 1
            continue
        }
        if hex {
            writer.buffer[mark...].withUnsafeBytes { hexOut.bytes.append(contentsOf: hexBytes($0)) }
            hexOut.newline()
            writer.buffer.removeAll(keepingCapacity: true)
            if hexOut.bytes.count >= 1 << 16 { writeAll(1, hexOut.bytes); hexOut.bytes.removeAll(keepingCapacity: true) }
        } else if writer.count >= 1 << 16 {
            writeAll(1, writer.buffer)
            writer.buffer.removeAll(keepingCapacity: true)
        }
    }
    writeAll(1, hex ? hexOut.bytes : writer.buffer)
    return failures == 0 ? 0 : 1
}

func hexBytes(_ p: UnsafeRawBufferPointer) -> [UInt8] {
    let digits = Array("0123456789abcdef".utf8)
    var out: [UInt8] = []
    out.reserveCapacity(p.count * 2)
    for b in p {
        out.append(digits[Int(b >> 4)])
        out.append(digits[Int(b & 15)])
    }
    return out
}

// MARK: - main

var arguments = Array(CommandLine.arguments.dropFirst())
guard let mode = arguments.first else {
    writeAll(2, Array(usage.utf8))
    exit(2)
}
arguments.removeFirst()
var hexMode = false
var frameMax: UInt32 = 64 << 20
while let argument = arguments.first {
    arguments.removeFirst()
    switch argument {
    case "--hex": hexMode = true
    case "--frame-max":
        guard let text = arguments.first, let value = UInt32(text), value >= 8 else {
            printError("--frame-max needs a number of bytes (at least 8)")
            exit(2)
        }
        arguments.removeFirst()
        frameMax = value
    default:
        printError("unknown argument \(argument)")
        writeAll(2, Array(usage.utf8))
        exit(2)
    }
}

switch mode {
case "decode": exit(runDecode(hex: hexMode, frameMax: frameMax))
case "encode": exit(runEncode(hex: hexMode))
case "-h", "--help", "help":
    writeAll(1, Array(usage.utf8))
    exit(0)
default:
    printError("unknown mode \(mode)")
    writeAll(2, Array(usage.utf8))
    exit(2)
}
