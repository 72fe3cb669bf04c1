// swift-tools-version:6.1
import PackageDescription

// The layout is the architecture: C bindings (one target per C library), libraries with one job each,
// and four thin executables that wire a library's stage to the broker.
let package = Package(
    name: "mgmt-fleet",
    platforms: [.macOS(.v14)],
    products: [
        .executable(name: "ingest", targets: ["Ingest"]),
        .executable(name: "seg-worker", targets: ["SegWorker"]),
        .executable(name: "cls-worker", targets: ["ClsWorker"]),
        .executable(name: "reporter", targets: ["Reporter"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.5.0"),
        .package(url: "https://github.com/apple/swift-log", from: "1.6.0"),
        .package(url: "https://github.com/apple/swift-metrics", from: "2.5.0"),
        .package(url: "https://github.com/swift-server/swift-prometheus", from: "2.0.0"),
        .package(url: "https://github.com/apple/swift-crypto", from: "3.0.0"),
        .package(url: "https://github.com/hummingbird-project/hummingbird", from: "2.0.0"),
    ],
    targets: [
        // C libraries, each touched by exactly one Swift wrapper.
        .systemLibrary(name: "CRabbitMQ", pkgConfig: "librabbitmq", providers: [.apt(["librabbitmq-dev"])]),
        .systemLibrary(name: "COpenBLAS", pkgConfig: "openblas", providers: [.apt(["libopenblas-dev"])]),
        .systemLibrary(name: "CLibPQ", pkgConfig: "libpq", providers: [.apt(["libpq-dev"])]),
        .systemLibrary(name: "CPNG", pkgConfig: "libpng", providers: [.apt(["libpng-dev"])]),
        .target(
            name: "CDicom",
            cxxSettings: [.unsafeFlags(["-Wno-deprecated-declarations"])],
            linkerSettings: ["dcmimage", "dcmimgle", "dcmjpeg", "dcmjpls", "dcmdata", "oflog", "ofstd"]
                .map { .linkedLibrary($0) }
        ),
        .target(
            name: "CDicomExchange",
            dependencies: ["CDicom"],
            cxxSettings: [.unsafeFlags(["-Wno-deprecated-declarations"])],
            linkerSettings: ["dcmseg", "dcmfg", "dcmiod", "dcmsr", "dcmnet", "dcmdata", "oflog", "ofstd"]
                .map { .linkedLibrary($0) }
        ),

        // The shared vocabulary: value types and aggregation rules every layer imports (Foundation only).
        .target(name: "Domain"),

        // Libraries: one job each.
        .target(name: "Broker", dependencies: ["CRabbitMQ", .product(name: "Logging", package: "swift-log")]),
        .target(name: "ResultsStore", dependencies: ["CLibPQ", "Domain", .product(name: "Logging", package: "swift-log")]),
        .target(name: "DICOM", dependencies: ["CDicom", "Domain"]),
        .target(
            name: "DICOMExchange",
            dependencies: ["CDicomExchange", "Domain", .product(name: "Crypto", package: "swift-crypto")]
        ),
        .target(name: "ArrayFiles", dependencies: [.product(name: "Crypto", package: "swift-crypto")]),
        .target(name: "Imaging", dependencies: ["ArrayFiles"]),
        // The series directory: its file names, documents and arrays, for every stage and command.
        .target(name: "SeriesFiles", dependencies: ["ArrayFiles", "Domain"]),
        .target(name: "Ingestion", dependencies: ["Domain", "DICOM", "Imaging", "ArrayFiles", "SeriesFiles", .product(name: "Logging", package: "swift-log")]),
        // Element-wise kernels per instruction set (AVX-512, AVX2, portable), chosen on CPUID at first use.
        .target(name: "CKernels"),
        .target(name: "Inference", dependencies: ["COpenBLAS", "CKernels", "ArrayFiles"]),
        .target(name: "Evaluation"),
        .target(name: "Pictures", dependencies: ["CPNG", "Imaging", "Evaluation"]),
        // The results page; the only user of the HTTP framework on the reporter side.
        .target(
            name: "ResultsPage",
            dependencies: ["Evaluation", "Pictures", .product(name: "Hummingbird", package: "hummingbird"),
                           .product(name: "Logging", package: "swift-log")]
        ),
        .target(
            name: "Segmentation",
            dependencies: [
                "ArrayFiles", "Inference", "Imaging", "SeriesFiles", .product(name: "Logging", package: "swift-log"),
            ]
        ),
        .target(
            name: "Classification",
            dependencies: ["ArrayFiles", "Domain", "Inference", "Imaging", "SeriesFiles"]
        ),
        // J. Borovec's 3D ResNet classifier of a whole series volume (MONAI's resnet18/34 on the engine).
        .target(name: "VolumeClassification", dependencies: ["ArrayFiles", "Domain", "Inference", "SeriesFiles"]),
        // The fleet's runtime: worker loop, messages, artifact store, configuration, metrics, status server.
        .target(
            name: "Fleet",
            dependencies: [
                "Broker", "Domain",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "Metrics", package: "swift-metrics"),
                .product(name: "Prometheus", package: "swift-prometheus"),
                .product(name: "Hummingbird", package: "hummingbird"),
            ]
        ),
        // One stage adapter per executable, so that each links only its stage's C libraries.
        .target(name: "FleetIngest", dependencies: ["Domain", "Fleet", "Ingestion", "SeriesFiles", .product(name: "Logging", package: "swift-log")]),
        .target(
            name: "FleetSegment",
            dependencies: ["Domain", "Fleet", "Segmentation", "SeriesFiles", .product(name: "Logging", package: "swift-log")]
        ),
        .target(
            name: "FleetClassify",
            dependencies: ["Classification", "Domain", "Fleet", "Pictures", "SeriesFiles", "VolumeClassification",
                           .product(name: "Logging", package: "swift-log")]
        ),
        .target(name: "FleetReport", dependencies: ["Domain", "Fleet", "ResultsStore", .product(name: "Logging", package: "swift-log")]),
        // The DICOM edge's output stage (`ingest deliver`): SEG and SR from the store, C-STORE to the PACS.
        .target(
            name: "FleetDeliver",
            dependencies: ["DICOMExchange", "Domain", "Fleet", "SeriesFiles", .product(name: "Logging", package: "swift-log")]
        ),

        // Executables: argument parsing and wiring only.
        .executableTarget(
            name: "Ingest",
            dependencies: ["DICOMExchange", "Domain", "Fleet", "FleetDeliver", "FleetIngest", "Ingestion", "SeriesFiles",
                           .product(name: "ArgumentParser", package: "swift-argument-parser"),
                           .product(name: "Logging", package: "swift-log"), .product(name: "Metrics", package: "swift-metrics")]
        ),
        .executableTarget(
            name: "SegWorker",
            dependencies: [
                "ArrayFiles", "Fleet", "FleetSegment", "Segmentation", "SeriesFiles", "Inference",
                .product(name: "ArgumentParser", package: "swift-argument-parser"), .product(name: "Logging", package: "swift-log"),
            ]
        ),
        .executableTarget(
            name: "ClsWorker",
            dependencies: [
                "Domain", "Fleet", "FleetClassify", "Classification", "Inference", "Segmentation", "VolumeClassification",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "Logging", package: "swift-log"),
            ]
        ),
        // What people read from the results database: evaluation inputs, the labels table, the page's source.
        .target(name: "ResultsReader", dependencies: ["Domain", "ResultsStore", "Evaluation", "ResultsPage"]),
        .executableTarget(
            name: "Reporter",
            dependencies: ["Domain", "Fleet", "FleetReport", "ResultsStore", "ResultsReader", "ResultsPage", "Evaluation", "Pictures",
                           .product(name: "ArgumentParser", package: "swift-argument-parser"),
                           .product(name: "Logging", package: "swift-log")]
        ),
        .executableTarget(name: "ImagingBenchmark", dependencies: ["Imaging"]),
        .executableTarget(name: "BrokerBenchmark", dependencies: ["Broker"], path: "tools/bench/BrokerBenchmark"),
        .executableTarget(
            name: "VolumeClassificationBenchmark",
            dependencies: ["ArrayFiles", "Inference", "SeriesFiles", "VolumeClassification"],
            path: "tools/bench/VolumeClassificationBenchmark"
        ),
        .executableTarget(name: "DICOMExchangeBenchmark", dependencies: ["DICOMExchange", "DICOM", "Domain"], path: "tools/bench/DICOMExchangeBenchmark"),

        .testTarget(name: "DomainTests", dependencies: ["Domain"]),
        .testTarget(name: "BrokerTests", dependencies: ["Broker"]),
        .testTarget(name: "ResultsStoreTests", dependencies: ["ResultsStore"]),
        .testTarget(name: "DICOMTests", dependencies: ["DICOM"], exclude: ["Fixtures"]),
        .testTarget(name: "DICOMExchangeTests", dependencies: ["DICOMExchange", "DICOM", "Domain"]),
        .testTarget(name: "IngestionTests", dependencies: ["ArrayFiles", "DICOM", "Domain", "Imaging", "Ingestion", "SeriesFiles"], exclude: ["Fixtures"]),
        .testTarget(name: "InferenceTests", dependencies: ["ArrayFiles", "Inference"], exclude: ["Fixtures"]),
        .testTarget(name: "CKernelsTests", dependencies: ["CKernels"]),
        .testTarget(name: "SegmentationTests", dependencies: ["ArrayFiles", "Segmentation", "Inference", "Imaging", "Ingestion", "SeriesFiles"], exclude: ["Fixtures"]),
        .testTarget(
            name: "ClassificationTests",
            dependencies: ["ArrayFiles", "Classification", "Domain", "Inference", "Imaging", "SeriesFiles", .product(name: "Crypto", package: "swift-crypto")],
            exclude: ["Fixtures"]
        ),
        .testTarget(
            name: "VolumeClassificationTests",
            dependencies: ["ArrayFiles", "Domain", "Inference", "SeriesFiles", "VolumeClassification",
                           .product(name: "Crypto", package: "swift-crypto")],
            exclude: ["Fixtures"]
        ),
        .testTarget(
            name: "FleetTests",
            dependencies: ["Domain", "Fleet", "FleetReport", "FleetIngest", "FleetSegment", "FleetDeliver", "DICOMExchange", "Broker", "ResultsStore", "ArrayFiles",
                           "Pictures", "Imaging", "Evaluation", .product(name: "Logging", package: "swift-log")]
        ),
        .testTarget(name: "ImagingTests", dependencies: ["ArrayFiles", "Imaging"], exclude: ["Fixtures"]),
        .testTarget(name: "EvaluationTests", dependencies: ["Evaluation"], exclude: ["Fixtures"]),
        .testTarget(name: "PicturesTests", dependencies: ["Pictures", "Imaging", "Evaluation"]),
        .testTarget(name: "ResultsPageTests", dependencies: ["ResultsPage", "Evaluation", "Pictures"]),
        .testTarget(name: "ResultsReaderTests", dependencies: ["Domain", "ResultsReader", "ResultsStore", "Evaluation", "ResultsPage"]),
    ],
    cxxLanguageStandard: .cxx17
)
