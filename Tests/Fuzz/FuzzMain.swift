// The libFuzzer entry points over AMQPFuzzHarness. Not a SwiftPM target: scripts/fuzz compiles it
// with `swiftc -sanitize=fuzzer,address` together with the harness, AMQPEngine and AMQPWire.
#if canImport(Glibc)
import Glibc
#endif
import AMQPFuzzHarness

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzTestOneInput(_ data: UnsafePointer<UInt8>?, _ size: Int) -> CInt {
    FuzzHarness.run(UnsafeRawBufferPointer(start: data, count: data == nil ? 0 : size))
    return 0
}

/// With SWAMQP_FUZZ_WRITE_SEEDS=DIR in the environment, writes the seed corpus into DIR and a
/// libFuzzer dictionary (method ids, frame headers, table tags) to DIR.dict, and exits.
@_cdecl("LLVMFuzzerInitialize")
public func fuzzInitialize(_ argc: UnsafeMutablePointer<CInt>?,
                           _ argv: UnsafeMutablePointer<UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?>?) -> CInt {
    guard let dir = getenv("SWAMQP_FUZZ_WRITE_SEEDS") else { return 0 }
    let directory = String(cString: dir)
    for (name, bytes) in FuzzSeeds.all() {
        let path = directory + "/seed-" + name
        guard let file = fopen(path, "wb") else {
            let message = "cannot write \(path)\n"
            _ = message.withCString { write(2, $0, strlen($0)) }
            exit(1)
        }
        let written = bytes.withUnsafeBytes { fwrite($0.baseAddress, 1, $0.count, file) }
        fclose(file)
        if written != bytes.count { exit(1) }
    }
    var dictionary = ""
    for (i, token) in FuzzSeeds.dictionary().enumerated() {
        dictionary += "t\(i)=\"" + token.map { "\\x" + String($0 >> 4, radix: 16) + String($0 & 15, radix: 16) }.joined() + "\"\n"
    }
    guard let file = fopen(directory + ".dict", "w") else { exit(1) }
    fputs(dictionary, file)
    fclose(file)
    exit(0)
}
