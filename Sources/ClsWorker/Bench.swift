import ArgumentParser
import Classification
import Foundation
import Inference

/// `cls-worker bench ...`: timings for scripts/bench-cls.sh, one JSON line each.
struct Bench: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Time the backbone or a whole study (used by scripts/bench-cls.sh).",
        subcommands: [Backbone.self, Study.self])

    struct Backbone: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Frames/s of ECA-NFNet-L0 at 224×224 (seeded weights, best of 3).")
        @Option var threads = 1
        @Option var batch = 35
        @Flag(help: "Also time each layer kind (one more batch, timed per layer; adds `profile_ms`).")
        var profile = false

        func run() throws {
            var model = try SequenceClassifier.seeded(baseSeed: 0x5EED_C1A5).backbone
            let frames = SeededWeights.uniform(key: "bench.frames", count: batch * ECANFNetArchitecture.frameSize, low: -2, high: 2.5, baseSeed: 1)
            let warmUp = min(batch, 2)
            _ = try model.embed(frames: Array(frames.prefix(warmUp * ECANFNetArchitecture.frameSize)), count: warmUp, threads: threads)
            var best = Double.infinity
            for _ in 0..<3 {
                let start = DispatchTime.now().uptimeNanoseconds
                _ = try model.embed(frames: frames, count: batch, threads: threads)
                best = min(best, Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9)
            }
            var result: [String: Any] = ["engine": "swift", "threads": threads, "batch": batch, "seconds": best,
                                         "fps": Double(batch) / best, "openblas_core": BLAS.coreName]
            if profile {
                // A separate batch, so that the clock reads do not touch the timings above.
                let layers = LayerProfile()
                model.profile = layers
                _ = try model.embed(frames: frames, count: batch, threads: threads)
                result["profile_ms"] = Dictionary(uniqueKeysWithValues: layers.milliseconds.map { ($0.kind, $0.milliseconds) })
            }
            printJSON(result)
        }
    }

    struct Study: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Seconds for `run` on a study directory.")
        @Argument var directory: String
        @Option var models: String
        @Option var threads = 2
        @Flag(help: "Recompute the backbone for every chunk, as the reference did.")
        var recompute = false

        func run() throws {
            let start = DispatchTime.now().uptimeNanoseconds
            let patient = try StudyClassifier(modelsDirectory: URL(fileURLWithPath: models), threads: threads, reuseEmbeddings: !recompute)
                .run(studyDirectory: URL(fileURLWithPath: directory))
            let seconds = Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9
            printJSON(["engine": recompute ? "swift-recompute" : "swift", "threads": threads, "seconds": seconds,
                       "kept": patient.series.first?.kept.count ?? 0, "chunks": patient.series.first?.chunks.count ?? 0,
                       "probability": patient.probability ?? -1])
        }
    }
}

private func printJSON(_ object: [String: Any]) {
    if let data = try? JSONSerialization.data(withJSONObject: object, options: [.sortedKeys]) {
        print(String(decoding: data, as: UTF8.self))
    }
}
