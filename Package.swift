// swift-tools-version:6.0
import PackageDescription

// The linker script and SONAME make the dynamic library export only `swamqp_*` and carry the
// versioned name that CMake's symlink chain expects. See docs/ARCHITECTURE.md, "ABI versioning".
let exportsMap = Context.packageDirectory + "/Sources/SwiftAMQP/exports.map"

let package = Package(
    name: "swiftamqp",
    products: [
        .library(name: "swiftamqp", type: .dynamic, targets: ["SwiftAMQP"]),
    ],
    targets: [
        .target(name: "CShim", linkerSettings: [.linkedLibrary("ssl"), .linkedLibrary("crypto")]),
        .systemLibrary(name: "COpenSSL", pkgConfig: "openssl", providers: [.apt(["libssl-dev"])]),
        .systemLibrary(name: "CSwiftAMQPAPI"),
        .target(name: "AMQPWire"),
        .target(name: "AMQPEngine", dependencies: ["AMQPWire"]),
        .target(name: "AMQPTransport", dependencies: ["AMQPEngine", "AMQPWire", "CShim", "COpenSSL"]),
        .target(
            name: "SwiftAMQP",
            dependencies: ["AMQPTransport", "AMQPEngine", "AMQPWire", "CSwiftAMQPAPI", "CShim"],
            exclude: ["exports.map"],
            linkerSettings: [
                .unsafeFlags([
                    "-Xlinker", "--version-script=\(exportsMap)",
                    "-Xlinker", "-soname=libswiftamqp.so.0",
                ]),
            ]
        ),
        // Tools and test helpers: not part of the library product.
        .executableTarget(name: "swamqp-frame", dependencies: ["AMQPWire"], path: "Sources/swamqp-frame"),
        .target(name: "AMQPFuzzHarness", dependencies: ["AMQPWire", "AMQPEngine"]),
        .executableTarget(name: "swamqp-bench-codec", dependencies: ["AMQPWire"], path: "bench/codec/Swift"),
        .testTarget(name: "AMQPWireTests", dependencies: ["AMQPWire"]),
        .testTarget(name: "AMQPEngineTests", dependencies: ["AMQPEngine", "AMQPWire"]),
        .testTarget(name: "AMQPTransportTests", dependencies: ["AMQPTransport", "AMQPEngine", "AMQPWire"]),
        .testTarget(name: "SwiftAMQPTests", dependencies: ["SwiftAMQP", "CSwiftAMQPAPI", "AMQPWire"]),
        .testTarget(name: "FuzzRegressionTests", dependencies: ["AMQPFuzzHarness", "AMQPWire"]),
    ],
    swiftLanguageModes: [.v6]
)
