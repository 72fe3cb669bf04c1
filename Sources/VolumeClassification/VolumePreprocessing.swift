import SeriesFiles

/// The baseline's inference preprocessing of one series volume, in float32 as NumPy and PyTorch 1.13 compute it:
/// 1. (v − q_low) / (q_high − q_low) with NumPy's linear quantiles over the whole volume, unclipped;
/// 2. trilinear resize to S³ (`F.interpolate(mode="trilinear", align_corners=False)`);
/// 3. the projection crop: per axis, the sum over the other two axes / the voxel count; keep from the first index
///    ≥ threshold to one past the last (the whole axis if none passes);
/// 4. trilinear resize of the crop back to S³;
/// 5. (v − mean) / std.
/// The network's axes are the volume's (rows, columns, slices); the cube is [rows][columns][slices].
public struct VolumePreprocessing: Sendable {
    public let configuration: Classifier3DConfiguration

    public init(_ configuration: Classifier3DConfiguration) {
        self.configuration = configuration
    }

    /// The network's input cube of `volume` (raw values, slices × rows × columns).
    public func cube(of volume: SeriesVolume<Float>) throws -> [Float] {
        let size = configuration.size
        var cube = try resizedCube(of: volume)
        if let threshold = configuration.cropThreshold {
            let crop = Self.projectionCrop(cube, size: size, threshold: threshold)
            cube = cube.withUnsafeBufferPointer { values in
                Self.resize(StridedVolume(base: values.baseAddress! + (crop.0.lowerBound * size + crop.1.lowerBound) * size + crop.2.lowerBound,
                                          extent: (crop.0.count, crop.1.count, crop.2.count), strides: (size * size, size, 1)),
                            to: size)
            }
        }
        let (mean, std) = (configuration.mean, configuration.std)
        for i in cube.indices { cube[i] = (cube[i] - mean) / std }
        return cube
    }

    /// Steps 1 and 2: the quantile-normalised volume resized to S³, [rows][columns][slices].
    public func resizedCube(of volume: SeriesVolume<Float>) throws -> [Float] {
        guard volume.slices > 0, volume.rows > 0, volume.columns > 0 else {
            throw Classifier3DError.invalidVolume("an empty volume (\(volume.slices) × \(volume.rows) × \(volume.columns))")
        }
        guard volume.values.allSatisfy(\.isFinite) else {
            throw Classifier3DError.invalidVolume("the volume holds values that are not finite")
        }
        let (low, high) = Self.quantiles(volume.values, configuration.quantiles[0], configuration.quantiles[1])
        let range = Float(high - low)
        guard range > 0 else {
            throw Classifier3DError.invalidVolume("the volume is one value between its quantiles \(configuration.quantiles) (\(low))")
        }
        // The raw volume seen as (rows, columns, slices), normalised as it is read.
        let (rows, columns) = (volume.rows, volume.columns)
        return volume.values.withUnsafeBufferPointer { values in
            Self.resize(StridedVolume(base: values.baseAddress!, extent: (rows, columns, volume.slices),
                                      strides: (columns, 1, rows * columns), low: Float(low), range: range), to: configuration.size)
        }
    }

    /// NumPy 1.24's `quantile(values, q)` (method "linear") for q = low and high, in float64 as NumPy returns them:
    /// the order statistics around (n − 1)·q, blended as NumPy's `_lerp` does (the difference in float32). Values
    /// must be finite.
    public static func quantiles(_ values: [Float], _ low: Double, _ high: Double) -> (Double, Double) {
        values.withUnsafeBufferPointer { (quantile($0, low), quantile($0, high)) }
    }

    private static func quantile(_ values: UnsafeBufferPointer<Float>, _ q: Double) -> Double {
        let n = values.count
        let virtual = Double(n - 1) * q
        guard virtual < Double(n - 1) else { return Double(orderStatistic(values, rank: n - 1)) }
        let previous = Int(virtual.rounded(.down))
        let (a, b) = (orderStatistic(values, rank: previous), orderStatistic(values, rank: previous + 1))
        let gamma = virtual - Double(previous)
        let difference = Double(b - a)
        return gamma >= 0.5 ? Double(b) - difference * (1 - gamma) : Double(a) + difference * gamma
    }

    /// The value of rank `rank` (0-based, ascending) among finite `values`, without a copy of them (a series can
    /// be hundreds of MB): a radix selection on the floats' order-preserving 32-bit keys, one counting pass for the
    /// upper 16 bits, one for the lower 16 bits among the values that share the chosen upper half.
    static func orderStatistic(_ values: UnsafeBufferPointer<Float>, rank: Int) -> Float {
        @inline(__always) func key(_ value: Float) -> UInt32 {
            let bits = value.bitPattern
            return bits & 0x8000_0000 != 0 ? ~bits : bits | 0x8000_0000
        }
        var counts = [Int](repeating: 0, count: 1 << 16)
        var remaining = rank
        func chosenBin() -> UInt32 {
            var bin = 0
            while remaining >= counts[bin] {
                remaining -= counts[bin]
                bin += 1
            }
            return UInt32(bin)
        }
        for value in values { counts[Int(key(value) >> 16)] += 1 }
        let upper = chosenBin()
        counts = [Int](repeating: 0, count: 1 << 16)
        for value in values where key(value) >> 16 == upper { counts[Int(key(value) & 0xFFFF)] += 1 }
        let wanted = upper << 16 | chosenBin()
        let bits = wanted & 0x8000_0000 != 0 ? wanted & 0x7FFF_FFFF : ~wanted
        return Float(bitPattern: bits)
    }

    /// A read-only volume seen through strides, with (v − low) / range applied to each value read (the identity
    /// by default).
    struct StridedVolume {
        let base: UnsafePointer<Float>
        /// (depth, height, width)
        let extent: (Int, Int, Int)
        let strides: (Int, Int, Int)
        var low: Float = 0
        var range: Float = 1

        @inline(__always)
        func value(_ d: Int, _ h: Int, _ w: Int) -> Float {
            (base[d * strides.0 + h * strides.1 + w * strides.2] - low) / range
        }
    }

    /// PyTorch's source indices and weights of one axis of a linear resize (align_corners=False): scale =
    /// float32(in/out), the source coordinate scale·(d + ½) − ½ in double, clamped at 0; its fraction in float32.
    struct LinearAxis {
        var first: [Int] = []
        var second: [Int] = []
        var weight0: [Float] = []
        var weight1: [Float] = []

        init(source: Int, destination: Int) {
            let scale = Double(Float(source) / Float(destination))
            for d in 0..<destination {
                let real = source == destination ? Double(d) : max(scale * (Double(d) + 0.5) - 0.5, 0)
                let index = min(Int(real), source - 1)
                let lambda = Float(min(max(real - Double(index), 0), 1))
                first.append(index)
                second.append(index < source - 1 ? index + 1 : index)
                weight0.append(1 - lambda)
                weight1.append(lambda)
            }
        }
    }

    /// Trilinear resize to size³, as PyTorch 1.13's CPU kernel for a strided volume computes it: per axis, from
    /// the innermost (width) outwards, t0·w0 + t1·w1 with the first product fused (t1·w1 rounded, then
    /// fma(t0, w0, ·)). The width and height passes are done once per source plane that an output plane needs.
    static func resize(_ source: StridedVolume, to size: Int) -> [Float] {
        let (depth, height, width) = source.extent
        let alongD = LinearAxis(source: depth, destination: size)
        let alongH = LinearAxis(source: height, destination: size)
        let alongW = LinearAxis(source: width, destination: size)
        var output = [Float](repeating: 0, count: size * size * size)
        // A source plane after the width and height passes: size × size values; the two latest are kept.
        var planes: [(index: Int, values: [Float])] = []
        var rows = [Float](repeating: 0, count: height * size)  // one plane after the width pass
        func resizedPlane(_ d: Int) -> [Float] {
            if let cached = planes.first(where: { $0.index == d }) { return cached.values }
            for h in 0..<height {
                for ow in 0..<size {
                    let t1 = source.value(d, h, alongW.second[ow]) * alongW.weight1[ow]
                    rows[h * size + ow] = t1.addingProduct(source.value(d, h, alongW.first[ow]), alongW.weight0[ow])
                }
            }
            var plane = [Float](repeating: 0, count: size * size)
            for oh in 0..<size {
                let (h0, h1, w0, w1) = (alongH.first[oh], alongH.second[oh], alongH.weight0[oh], alongH.weight1[oh])
                for ow in 0..<size {
                    plane[oh * size + ow] = (rows[h1 * size + ow] * w1).addingProduct(rows[h0 * size + ow], w0)
                }
            }
            planes.append((d, plane))
            if planes.count > 2 { planes.removeFirst() }
            return plane
        }
        for od in 0..<size {
            let (w0, w1) = (alongD.weight0[od], alongD.weight1[od])
            let plane0 = resizedPlane(alongD.first[od]), plane1 = resizedPlane(alongD.second[od])
            let base = od * size * size
            for i in 0..<(size * size) {
                output[base + i] = (plane1[i] * w1).addingProduct(plane0[i], w0)
            }
        }
        return output
    }

    /// The baseline's `crop_volume` on a size³ cube: per axis, the ranges whose projection (sum over the other
    /// two axes / voxel count) reaches `threshold`, from the first such index to one past the last.
    public static func projectionCrop(_ cube: [Float], size: Int, threshold: Double) -> (Range<Int>, Range<Int>, Range<Int>) {
        var sums = [[Double]](repeating: [Double](repeating: 0, count: size), count: 3)
        for d in 0..<size {
            for h in 0..<size {
                let row = (d * size + h) * size
                var rowSum = 0.0
                for w in 0..<size {
                    let v = Double(cube[row + w])
                    rowSum += v
                    sums[2][w] += v
                }
                sums[0][d] += rowSum
                sums[1][h] += rowSum
            }
        }
        let count = Double(size * size * size)
        func kept(_ projection: [Double]) -> Range<Int> {
            let passes = projection.map { Double(Float($0 / count)) >= threshold }
            guard let first = passes.firstIndex(of: true), let last = passes.lastIndex(of: true) else { return 0..<size }
            return first..<(last + 1)
        }
        return (kept(sums[0]), kept(sums[1]), kept(sums[2]))
    }
}
