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

    /// The kept crash inputs (none so far: the folder holds only its README) and every prefix of
    /// every corpus seed, the truncations a cut connection delivers, in the engine after the
    /// `busy` stage and in the parser alone.
    @Test func keptInputsAndEveryTruncatedSeedRunCleanly() throws {
        var inputs: [[UInt8]] = []
        for name in Self.regressionFiles() {
            let data = try #require(FileManager.default.contents(atPath: Self.regressionDirectory + "/" + name), "unreadable \(name)")
            let bytes = [UInt8](data)
            inputs.append(bytes)
            // Also under every stage and both modes, since a crash input may matter elsewhere too.
            if bytes.count >= FuzzHarness.controlBytes {
                for control in 0..<16 {
                    var variant = bytes
                    variant[0] = variant[0] & 0xf0 | UInt8(control)
                    inputs.append(variant)
                }
            }
        }
        let seeds = FuzzSeeds.all()
        for (_, seed) in seeds {
            for control: UInt8 in [FuzzHarness.Stage.busy.rawValue, 0x08 | FuzzHarness.Stage.busy.rawValue] {
                var bytes = seed
                bytes[0] = control
                // every length of the short seeds, about a thousand cuts of the long ones
                for length in stride(from: 0, through: bytes.count, by: max(1, bytes.count / 1024)) {
                    inputs.append(Array(bytes[0..<length]))
                }
            }
        }
        #expect(inputs.count > 2 * seeds.count)
        for input in inputs { input.withUnsafeBytes { FuzzHarness.run($0) } }
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
}
