import AMQPFuzzHarness
import Foundation
import Testing

/// Replays every input kept under Tests/FuzzRegressions (inputs that once crashed the fuzz harness,
/// kept by scripts/fuzz) and the fuzz corpus seeds through the same harness the fuzzer runs: the
/// frame parser with its re-encoding check, and the connection state machine's inbound path. A
/// regression traps the test process, so a failure here is loud.
@Suite struct FuzzRegressionTests {
    static var regressionDirectory: String {
        var url = URL(fileURLWithPath: #filePath)
        url.deleteLastPathComponent() // FuzzRegressionTests.swift
        url.deleteLastPathComponent() // FuzzRegressionTests
        return url.appendingPathComponent("FuzzRegressions").path
    }

    static func regressionFiles() -> [String] {
        let names = (try? FileManager.default.contentsOfDirectory(atPath: regressionDirectory)) ?? []
        return names.filter { !$0.hasPrefix(".") && !$0.hasSuffix(".md") }.sorted()
    }

    @Test func everyKeptCrashInputRunsCleanly() throws {
        let files = Self.regressionFiles()
        for name in files {
            let data = try #require(FileManager.default.contents(atPath: Self.regressionDirectory + "/" + name), "unreadable \(name)")
            [UInt8](data).withUnsafeBytes { FuzzHarness.run($0) }
        }
        // Also under every stage and both modes, since a crash input may matter elsewhere too.
        for name in files {
            guard var bytes = FileManager.default.contents(atPath: Self.regressionDirectory + "/" + name).map({ [UInt8]($0) }),
                  bytes.count >= FuzzHarness.controlBytes else { continue }
            for control in 0..<16 {
                bytes[0] = bytes[0] & 0xf0 | UInt8(control)
                bytes.withUnsafeBytes { FuzzHarness.run($0) }
            }
        }
    }

    @Test func seedsRunCleanlyUnderEveryStageAndSplit() {
        let seeds = FuzzSeeds.all()
        #expect(seeds.count > 20)
        for (_, seed) in seeds {
            seed.withUnsafeBytes { FuzzHarness.run($0) }
            // The same stream after every scripted stage, in the parser alone, and cut into reads.
            var bytes = seed
            for control: UInt8 in [0, 1, 2, 3, 4, 5, 6, 7, 8, 0x35, 0x58, 0xf5] {
                bytes[0] = control
                bytes.withUnsafeBytes { FuzzHarness.run($0) }
            }
        }
    }

    @Test func shortAndEmptyInputsAreIgnored() {
        for n in 0...4 {
            [UInt8](repeating: 0, count: n).withUnsafeBytes { FuzzHarness.run($0) }
        }
    }
}
