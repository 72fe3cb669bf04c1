import Foundation
import Inference

/// `layers SIZE THREADS [PLANES]`: each distinct convolution of the resnet18 at input size SIZE (stem stride 1),
/// timed on PLANES (default 4) output planes from the middle of its output, best of three, on seeded weights;
/// beside it, OpenBLAS's sgemm alone on the same m, k and n (what the convolution cost before its own GEMM, not
/// counting the columns), in the same process so that a loaded machine shifts both alike; for the 3×3×3 stride-1
/// layers also the method the network does not use (Winograd or direct), timed alternately with it. One JSON line
/// per layer: milliseconds per output plane, GFLOP/s of each (Winograd's as the direct form's FLOPs per second), and
/// the network's total of that layer.
func benchmarkLayers(size: Int, threads: Int, planes: Int) throws {
    struct Shape { let name: String, input: Int, inChannels: Int, outChannels: Int, kernel: Int, stride: Int, count: Int }
    let (s1, s2, s3, s4) = (size / 2, size / 4, size / 8, size / 16)
    let shapes = [
        Shape(name: "stem", input: size, inChannels: 1, outChannels: 64, kernel: 7, stride: 1, count: 1),
        Shape(name: "layer1", input: s1, inChannels: 64, outChannels: 64, kernel: 3, stride: 1, count: 4),
        Shape(name: "layer2.0.conv1", input: s1, inChannels: 64, outChannels: 128, kernel: 3, stride: 2, count: 1),
        Shape(name: "layer2.0.downsample", input: s1, inChannels: 64, outChannels: 128, kernel: 1, stride: 2, count: 1),
        Shape(name: "layer2", input: s2, inChannels: 128, outChannels: 128, kernel: 3, stride: 1, count: 3),
        Shape(name: "layer3.0.conv1", input: s2, inChannels: 128, outChannels: 256, kernel: 3, stride: 2, count: 1),
        Shape(name: "layer3", input: s3, inChannels: 256, outChannels: 256, kernel: 3, stride: 1, count: 3),
        Shape(name: "layer4.0.conv1", input: s3, inChannels: 256, outChannels: 512, kernel: 3, stride: 2, count: 1),
        Shape(name: "layer4", input: s4, inChannels: 512, outChannels: 512, kernel: 3, stride: 1, count: 3),
    ]
    let previousThreads = BLAS.threadCount
    BLAS.threadCount = threads
    defer { BLAS.threadCount = previousThreads }
    let workspace = Workspace()
    var total = (swift: 0.0, openblas: 0.0)
    for shape in shapes {
        let k3 = shape.kernel * shape.kernel * shape.kernel
        let weight = try Tensor(shape: [shape.outChannels, shape.inChannels, shape.kernel, shape.kernel, shape.kernel],
                                storage: SeededWeights.uniform(key: shape.name, count: shape.outChannels * shape.inChannels * k3,
                                                               low: -0.05, high: 0.05, baseSeed: 1))
        let (stride, padding) = (Triple3D(integerLiteral: shape.stride), Triple3D(integerLiteral: shape.kernel / 2))
        let conv = try Conv3d(weight: weight, stride: stride, padding: padding, activation: .relu)
        let alternative = shape.kernel == 3 && shape.stride == 1
            ? try Conv3d(weight: weight, stride: stride, padding: padding, activation: .relu,
                         method: conv.method == .winograd ? .direct : .winograd)
            : nil
        let out = conv.outputSize(depth: shape.input, height: shape.input, width: shape.input)
        let measured = min(planes, out.depth), first = (out.depth - measured) / 2
        let inputCount = shape.inChannels * shape.input * shape.input * shape.input
        let input = workspace.floats(inputCount)
        for i in 0..<inputCount { input[i] = Float(i % 97) * 0.01 - 0.4 }
        let planeSize = out.height * out.width
        let output = workspace.floats(shape.outChannels * measured * planeSize)
        let x = FeatureVolume(data: input, channels: shape.inChannels, depth: shape.input, height: shape.input, width: shape.input)
        let y = FeatureVolume(data: output, channels: shape.outChannels, depth: measured, height: out.height, width: out.width)
        let k = shape.inChannels * k3, n = measured * planeSize
        let columns = workspace.floats(k * n)
        for i in 0..<k * n { columns[i] = Float(i % 89) * 0.01 }
        var best = (swift: Double.infinity, openblas: Double.infinity, alternative: Double.infinity)
        for _ in 0..<3 {
            var start = now()
            conv.apply(x, into: y, planes: first..<first + measured, outputOrigin: first, threads: threads, workspace: workspace)
            best.swift = min(best.swift, now() - start)
            if let alternative {
                start = now()
                alternative.apply(x, into: y, planes: first..<first + measured, outputOrigin: first, threads: threads, workspace: workspace)
                best.alternative = min(best.alternative, now() - start)
            }
            start = now()
            weight.storage.withUnsafeBufferPointer { w in
                BLAS.sgemm(m: shape.outChannels, n: n, k: k, a: w.baseAddress!, lda: k, b: columns, ldb: n, c: output, ldc: n)
            }
            best.openblas = min(best.openblas, now() - start)
        }
        let flops = 2.0 * Double(shape.outChannels * k * n)
        let scale = Double(out.depth * shape.count) / Double(measured)
        total = (total.swift + best.swift * scale, total.openblas + best.openblas * scale)
        var row: [String: Any] = [
            "layer": shape.name, "m": shape.outChannels, "k": k, "n": n, "threads": threads, "method": "\(conv.method)",
            "swift_ms_per_plane": best.swift * 1000 / Double(measured), "openblas_gemm_ms_per_plane": best.openblas * 1000 / Double(measured),
            "swift_gflops": flops / best.swift / 1e9, "openblas_gemm_gflops": flops / best.openblas / 1e9,
            "network_seconds_swift": best.swift * scale, "network_seconds_openblas_gemm": best.openblas * scale,
        ]
        if let alternative {
            row["alternative_method"] = "\(alternative.method)"
            row["alternative_ms_per_plane"] = best.alternative * 1000 / Double(measured)
            row["alternative_gflops"] = flops / best.alternative / 1e9
        }
        print(String(decoding: try JSONSerialization.data(withJSONObject: row, options: [.sortedKeys]), as: UTF8.self))
        workspace.reset()
    }
    let summary: [String: Any] = ["layer": "total", "network_seconds_swift": total.swift, "network_seconds_openblas_gemm": total.openblas]
    print(String(decoding: try JSONSerialization.data(withJSONObject: summary, options: [.sortedKeys]), as: UTF8.self))
}
