// Bilinear resize with cv2.resize(..., interpolation=INTER_LINEAR) semantics as OpenCV 4.8.1 (the
// opencv-python wheel, with IPP) computes it. Pixel centres are aligned: the source coordinate of
// destination index d is (d + 0.5) * (src / dst) - 0.5.
//
// The two pixel types take different paths inside OpenCV, and each is reproduced:
// - UInt8: OpenCV's own fixed-point code (IPP declines 8-bit linear resize because it is not
//   bit-exact). Weights are cvRound(w * 2048) from float coordinates; the horizontal pass is exact
//   integer arithmetic; the vertical pass is OpenCV's SIMD kernel (VResizeLinearVec_32s8u), which
//   drops 4 bits before a 16-bit multiply-high: ((r0 >> 4) * b0 >> 16) + ((r1 >> 4) * b1 >> 16),
//   then (+2) >> 2. It applies to every column (the scalar formula gives ±1 elsewhere). Vertical
//   weights are not clamped at the borders (rows are), horizontal ones are. An exact 2× downscale
//   in both axes is INTER_AREA's fast path instead: (a + b + c + d + 2) >> 2.
// - Float: IPP's linear resize (OpenCV hands float images to IPP). Its fraction f is computed in
//   double and rounded once to float; out-of-range coordinates clamp to the edge pixel; horizontal
//   pass, then vertical, each as a fused a + f·(b − a) (IPP's AVX-512/FMA kernel; emulated here in
//   double, which is exact for a float product), except IPP's scalar remainder (the last
//   (inner columns % 4) inner columns, unfused in both passes) and its border rows (clamped rows:
//   one source row, fused everywhere). Measured on 394 random size pairs: bit-exact in all but 6;
//   those differ by 1–2 float ulps at source positions that fall exactly on a pixel (IPP then
//   sometimes blends (k-1, k) with weight 1, by a rule not reproduced) or on 2-pixel-wide sources.

/// Per-axis source indices and weights for one resize, computed once per call.
struct LinearAxisTable {
    var first: [Int32]     // index of the left/top source sample (already clamped into the image)
    var second: [Int32]    // index of the right/bottom source sample (clamped)
    var weight0: [Float]
    var weight1: [Float]
    /// Destinations whose two samples both lie inside the source (the others are clamped).
    var inner: Range<Int> = 0..<0

    /// OpenCV's own coefficients (resize.cpp): float coordinate, fraction in float.
    /// `clampWeights`: OpenCV zeroes the fraction outside the image for the x axis only.
    static func opencv(source: Int, destination: Int, clampWeights: Bool) -> LinearAxisTable {
        let scale = 1.0 / (Double(destination) / Double(source))
        var table = LinearAxisTable(reserving: destination)
        for d in 0..<destination {
            var f = Float((Double(d) + 0.5) * scale - 0.5)
            var s = Int(f.rounded(.down))
            f -= Float(s)
            if clampWeights {
                if s < 0 { f = 0; s = 0 }
                if s >= source - 1 { f = 0; s = source - 1 }
            }
            table.append(source: source, index: s, weight0: 1 - f, weight1: f)
        }
        return table
    }

    /// IPP's coefficients: fraction in double, rounded once to float.
    static func ipp(source: Int, destination: Int) -> LinearAxisTable {
        let ratio = Double(source) / Double(destination)
        var table = LinearAxisTable(reserving: destination)
        var innerStart = destination, innerEnd = 0
        for d in 0..<destination {
            let position = (Double(d) + 0.5) * ratio - 0.5
            var s = Int(position.rounded(.down))
            var fraction = Float(position - Double(s))
            if s < 0 {
                s = 0; fraction = 0
            } else if s >= source - 1 {
                s = source - 1; fraction = 0
            } else {
                innerStart = min(innerStart, d); innerEnd = d + 1
            }
            table.append(source: source, index: s, weight0: 1 - fraction, weight1: fraction)
        }
        table.inner = innerStart < innerEnd ? innerStart..<innerEnd : 0..<0
        return table
    }

    private init(reserving count: Int) {
        first = []; second = []; weight0 = []; weight1 = []
        first.reserveCapacity(count); second.reserveCapacity(count)
        weight0.reserveCapacity(count); weight1.reserveCapacity(count)
    }

    private mutating func append(source: Int, index: Int, weight0 w0: Float, weight1 w1: Float) {
        first.append(Int32(min(max(index, 0), source - 1)))
        second.append(Int32(min(max(index + 1, 0), source - 1)))
        weight0.append(w0)
        weight1.append(w1)
    }

    /// Runs `body` with unchecked views of the two index arrays (for the per-pixel loops).
    @inline(__always)
    func withIndices<R>(_ body: (UnsafeBufferPointer<Int32>, UnsafeBufferPointer<Int32>) -> R) -> R {
        first.withUnsafeBufferPointer { f in second.withUnsafeBufferPointer { s in body(f, s) } }
    }

    /// Weights as OpenCV's 11-bit fixed point: saturate_cast<short>(w * 2048), round half to even.
    func fixedPointWeights() -> (w0: [Int32], w1: [Int32]) {
        func fixed(_ w: Float) -> Int32 { Int32((w * 2048).rounded(.toNearestOrEven)) }
        return (weight0.map(fixed), weight1.map(fixed))
    }
}

extension Image where Pixel == UInt8 {
    /// cv2.resize(self, (width, height), interpolation=cv2.INTER_LINEAR) on a uint8 image, bit-exact.
    public func resized(width newWidth: Int, height newHeight: Int) throws -> Image<UInt8> {
        try Self.validate(width: newWidth, height: newHeight)
        if newWidth == width && newHeight == height { return self }
        if width == 2 * newWidth && height == 2 * newHeight { return halvedByAreaAverage() }

        let xTable = LinearAxisTable.opencv(source: width, destination: newWidth, clampWeights: true)
        let yTable = LinearAxisTable.opencv(source: height, destination: newHeight, clampWeights: false)
        let (xw0, xw1) = xTable.fixedPointWeights()
        let (yw0, yw1) = yTable.fixedPointWeights()
        let sourceWidth = width

        let output = pixels.withUnsafeBufferPointer { source in
            xTable.withIndices { first, second in
                xw0.withUnsafeBufferPointer { w0 in
                    xw1.withUnsafeBufferPointer { w1 in
                        separableResize(width: newWidth, height: newHeight, rows: yTable,
                                        horizontal: { (y: Int, target: UnsafeMutablePointer<Int32>) in
                            // Exact integers: sample × weight, the weights summing to 2048.
                            let sourceRow = source.baseAddress! + y * sourceWidth
                            for x in 0..<newWidth {
                                target[x] = Int32(sourceRow[Int(first[x])]) &* w0[x] &+ Int32(sourceRow[Int(second[x])]) &* w1[x]
                            }
                        }, vertical: { (y: Int, row0: UnsafePointer<Int32>, row1: UnsafePointer<Int32>, target: UnsafeMutablePointer<UInt8>) in
                            // OpenCV's SIMD arithmetic: 16-bit multiply-high on values shifted right by 4.
                            let b0 = yw0[y], b1 = yw1[y]
                            for x in 0..<newWidth {
                                let value = ((((row0[x] >> 4) &* b0) >> 16) &+ (((row1[x] >> 4) &* b1) >> 16) &+ 2) >> 2
                                target[x] = UInt8(clamping: value)
                            }
                        })
                    }
                }
            }
        }
        return Image(validWidth: newWidth, height: newHeight, pixels: output)
    }

    /// OpenCV's INTER_AREA fast path for an exact 2× downscale (what INTER_LINEAR becomes there).
    private func halvedByAreaAverage() -> Image<UInt8> {
        let newWidth = width / 2, newHeight = height / 2, sourceWidth = width
        var output = [UInt8](repeating: 0, count: newWidth * newHeight)
        output.withUnsafeMutableBufferPointer { out in
            pixels.withUnsafeBufferPointer { source in
                for y in 0..<newHeight {
                    let top = source.baseAddress! + 2 * y * sourceWidth
                    let bottom = top + sourceWidth
                    for x in 0..<newWidth {
                        let sum = Int(top[2 * x]) + Int(top[2 * x + 1]) + Int(bottom[2 * x]) + Int(bottom[2 * x + 1])
                        out[y * newWidth + x] = UInt8((sum + 2) >> 2)
                    }
                }
            }
        }
        return Image(validWidth: newWidth, height: newHeight, pixels: output)
    }
}

/// a + f·(b − a) with one rounding of the product-sum, as an FMA computes it. The float product is
/// exact in double, so only the final conversion rounds (a double-rounding tie is vanishingly rare).
@inline(__always)
private func fusedLerp(_ a: Float, _ b: Float, _ fraction: Float) -> Float {
    Float(Double(a) + Double(fraction) * Double(b - a))
}

/// a + f·(b − a) rounded after each operation (IPP's scalar remainder loop).
@inline(__always)
private func unfusedLerp(_ a: Float, _ b: Float, _ fraction: Float) -> Float {
    a + fraction * (b - a)
}

extension Image where Pixel == Float {
    /// cv2.resize(self, (width, height), interpolation=cv2.INTER_LINEAR) on a float32 image
    /// (IPP's linear resize, as OpenCV 4.8.1 with IPP runs it), within a float ulp.
    public func resized(width newWidth: Int, height newHeight: Int) throws -> Image<Float> {
        try Self.validate(width: newWidth, height: newHeight)
        if newWidth == width && newHeight == height { return self }
        let xTable = LinearAxisTable.ipp(source: width, destination: newWidth)
        let yTable = LinearAxisTable.ipp(source: height, destination: newHeight)
        let sourceWidth = width
        // IPP's SIMD loop covers the inner columns in groups of 4; the remainder (the last
        // inner.count % 4 inner columns) goes through scalar code without FMA, in both passes.
        let scalarTail = (xTable.inner.upperBound - xTable.inner.count % 4)..<xTable.inner.upperBound

        let output = pixels.withUnsafeBufferPointer { source in
            xTable.withIndices { first, second in
                xTable.weight1.withUnsafeBufferPointer { fraction in
                    /// One source row filtered horizontally; `fusedTail` for IPP's border rows.
                    func filterRow(_ y: Int, into target: UnsafeMutablePointer<Float>, fusedTail: Bool) {
                        let sourceRow = source.baseAddress! + y * sourceWidth
                        for x in 0..<newWidth {
                            target[x] = fusedLerp(sourceRow[Int(first[x])], sourceRow[Int(second[x])], fraction[x])
                        }
                        if fusedTail { return }
                        for x in scalarTail {
                            target[x] = unfusedLerp(sourceRow[Int(first[x])], sourceRow[Int(second[x])], fraction[x])
                        }
                    }
                    return separableResize(width: newWidth, height: newHeight, rows: yTable,
                                           horizontal: { y, target in filterRow(y, into: target, fusedTail: false) },
                                           vertical: { (y: Int, row0: UnsafePointer<Float>, row1: UnsafePointer<Float>, target: UnsafeMutablePointer<Float>) in
                        guard yTable.inner.contains(y) else {
                            // A clamped (border) row is IPP's separate border code: one source row,
                            // filtered horizontally with FMA in every column.
                            filterRow(Int(yTable.first[y]), into: target, fusedTail: true)
                            return
                        }
                        let f = yTable.weight1[y]
                        for x in 0..<newWidth { target[x] = fusedLerp(row0[x], row1[x], f) }
                        for x in scalarTail { target[x] = unfusedLerp(row0[x], row1[x], f) }
                    })
                }
            }
        }
        return Image(validWidth: newWidth, height: newHeight, pixels: output)
    }
}

/// The separable resize loop shared by both depths, OpenCV's strategy: for each output row, the
/// two source rows it blends are passed through `horizontal` on demand and kept in a two-row cache
/// (each source row is filtered at most once, unused ones never), then `vertical` blends them.
@inline(__always)
private func separableResize<Intermediate, Output>(
    width: Int, height: Int, rows: LinearAxisTable,
    horizontal: (Int, UnsafeMutablePointer<Intermediate>) -> Void,
    vertical: (Int, UnsafePointer<Intermediate>, UnsafePointer<Intermediate>, UnsafeMutablePointer<Output>) -> Void
) -> [Output] {
    let cache = UnsafeMutablePointer<Intermediate>.allocate(capacity: 2 * width)
    defer { cache.deallocate() }
    var cachedRow = (-1, -1)  // source row held by slot 0 and slot 1

    /// The slot holding source row `row`, filling the slot that does not hold `keep` if needed.
    func slot(for row: Int, keeping keep: Int) -> UnsafeMutablePointer<Intermediate> {
        if cachedRow.0 == row { return cache }
        if cachedRow.1 == row { return cache + width }
        if cachedRow.0 == keep {
            horizontal(row, cache + width)
            cachedRow.1 = row
            return cache + width
        }
        horizontal(row, cache)
        cachedRow.0 = row
        return cache
    }

    return [Output](unsafeUninitializedCapacity: width * height) { out, initialised in
        for y in 0..<height {
            let top = Int(rows.first[y]), bottom = Int(rows.second[y])
            let row0 = slot(for: top, keeping: bottom)
            let row1 = slot(for: bottom, keeping: top)
            vertical(y, row0, row1, out.baseAddress! + y * width)
        }
        initialised = width * height
    }
}
