// The Swift side of scripts/bench-3d.sh: one process per measurement (its peak RSS is measured from outside),
// MONAI resnet on the seeded weights tools/reference/cls3d_reference.py builds (BASE_SEED), on a raw phantom
// series .npy (slices, rows, columns). Prints one JSON line: the best wall time per volume of the whole path
// (preprocessing + network) and of each part, and, given the reference's cube and logit for the same phantom,
// the differences (the S = 224 parity check).
//   usage: VolumeClassificationBenchmark PHANTOM.npy SIZE THREADS VOLUMES [DEPTH [CUBE.npy LOGIT]]
//          VolumeClassificationBenchmark layers SIZE THREADS [PLANES]   (per-convolution timings, Layers.swift)
import ArrayFiles
import Foundation
import Inference
import SeriesFiles
import VolumeClassification

let arguments = CommandLine.arguments
func now() -> Double { Double(DispatchTime.now().uptimeNanoseconds) / 1e9 }

if arguments.count >= 4, arguments[1] == "layers", let size = Int(arguments[2]), let threads = Int(arguments[3]) {
    do {
        try benchmarkLayers(size: size, threads: threads, planes: arguments.count > 4 ? Int(arguments[4]) ?? 4 : 4)
        exit(0)
    } catch {
        FileHandle.standardError.write(Data("VolumeClassificationBenchmark layers: \(error)\n".utf8))
        exit(1)
    }
}
guard arguments.count >= 5, let size = Int(arguments[2]), let threads = Int(arguments[3]), let volumes = Int(arguments[4]) else {
    FileHandle.standardError.write(Data("usage: VolumeClassificationBenchmark PHANTOM.npy SIZE THREADS VOLUMES [DEPTH [CUBE.npy LOGIT]]\n".utf8))
    exit(2)
}
let depth = arguments.count > 5 ? Int(arguments[5]) ?? 18 : 18
let seed: UInt64 = 0x5EED_3D00  // BASE_SEED in tools/reference/cls3d_reference.py

do {
    let array = try NpyArray(contentsOf: URL(fileURLWithPath: arguments[1]))
    guard array.shape.count == 3, let values = array.float32Values else { throw Classifier3DError.invalidVolume("phantom: a 3-D float32 .npy") }
    let volume = SeriesVolume(slices: array.shape[0], rows: array.shape[1], columns: array.shape[2], values: values)
    var configuration = Classifier3DConfiguration()
    configuration.size = size
    configuration.depth = depth
    let network = try ResNet3D(weights: SeededWeightSource(baseSeed: seed), depth: depth, stemStride: 1)
    let classifier = Classifier3D(network: network, configuration: configuration, weightsSha256: nil, threads: threads)
    var best = (total: Double.infinity, preprocessing: Double.infinity, network: Double.infinity)
    var cube: [Float] = []
    var logit: Float = 0
    for _ in 0..<max(1, volumes) {
        let start = now()
        cube = try classifier.preprocess(volume)
        let preprocessed = now()
        logit = try classifier.logit(ofPreprocessed: cube)
        let end = now()
        best = (min(best.total, end - start), min(best.preprocessing, preprocessed - start), min(best.network, end - preprocessed))
    }
    var result: [String: Any] = [
        "engine": "swift", "size": size, "threads": threads, "depth": depth, "volumes": volumes, "logit": logit,
        "seconds": best.total, "preprocessing_seconds": best.preprocessing, "network_seconds": best.network,
        "volumes_per_second": 1 / best.total, "network_volumes_per_second": 1 / best.network, "openblas_core": BLAS.coreName,
    ]
    if arguments.count > 7, let expectedLogit = Float(arguments[7]) {
        guard let expected = try NpyArray(contentsOf: URL(fileURLWithPath: arguments[6])).float32Values else {
            throw Classifier3DError.invalidVolume("\(arguments[6]): not float32")
        }
        result["max_cube_difference"] = zip(cube, expected).map { abs($0 - $1) }.max() ?? Float.infinity
        result["cube_values_compared"] = min(cube.count, expected.count)
        result["logit_difference"] = abs(logit - expectedLogit)
    }
    print(String(decoding: try JSONSerialization.data(withJSONObject: result, options: [.sortedKeys]), as: UTF8.self))
} catch {
    FileHandle.standardError.write(Data("VolumeClassificationBenchmark: \(error)\n".utf8))
    exit(1)
}
