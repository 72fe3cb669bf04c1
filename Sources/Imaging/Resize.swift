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
// - Float: IPP's linear resize (OpenCV hands float images to IPP). Its fraction is computed in
//   double and rounded once to float (w1 = Float(f), w0 = 1 - w1), out-of-range coordinates clamp
//   to the edge pixel, horizontal pass then vertical. IPP's own SIMD summation order is not
//   reproduced: results agree within a few float ulps (≤ 5e-5 on 0–255 data).

/// Per-axis source indices and weights for one resize, computed once per call.
struct LinearAxisTable {
    var first: [Int32]     // index of the left/top source sample (already clamped into the image)
    var second: [Int32]    // index of the right/bottom source sample (clamped)
    var weight0: [Float]
    var weight1: [Float]

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
        for d in 0..<destination {
            let position = (Double(d) + 0.5) * ratio - 0.5
            var s = Int(position.rounded(.down))
            var fraction = Float(position - Double(s))
            if s < 0 { s = 0; fraction = 0 }
            if s >= source - 1 { s = source - 1; fraction = 0 }
            table.append(source: source, index: s, weight0: 1 - fraction, weight1: fraction)
        }
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

    /// Weights as OpenCV's 11-bit fixed point: saturate_cast<short>(w * 2048), round half to even.
    func fixedPointWeights() -> (w0: [Int32], w1: [Int32]) {
        func fixed(_ w: Float) -> Int32 { Int32((w * 2048).rounded(.toNearestOrEven)) }
        return (weight0.map(fixed), weight1.map(fixed))
    }
}

extension Image where Pixel == UInt8 {
    /// cv2.resize(self, (width, height), interpolation=cv2.INTER_LINEAR) on a uint8 image, bit-exact.
    public func resized(width newWidth: Int, height newHeight: Int) throws -> Image<UInt8> {
        guard newWidth > 0, newHeight > 0 else { throw ImagingError.invalidSize(width: newWidth, height: newHeight) }
        if newWidth == width && newHeight == height { return self }
        if width == 2 * newWidth && height == 2 * newHeight { return halvedByAreaAverage() }

        let xTable = LinearAxisTable.opencv(source: width, destination: newWidth, clampWeights: true)
        let yTable = LinearAxisTable.opencv(source: height, destination: newHeight, clampWeights: false)
        let (xw0, xw1) = xTable.fixedPointWeights()
        let (yw0, yw1) = yTable.fixedPointWeights()
        let sourceWidth = width

        // Horizontal pass over every source row: exact integers (sample * weight, weights sum to 2048).
        var rows = [Int32](repeating: 0, count: height * newWidth)
        rows.withUnsafeMutableBufferPointer { rowBuffer in
            pixels.withUnsafeBufferPointer { source in
                for y in 0..<height {
                    let sourceRow = source.baseAddress! + y * sourceWidth
                    let target = rowBuffer.baseAddress! + y * newWidth
                    for x in 0..<newWidth {
                        let a = Int32(sourceRow[Int(xTable.first[x])])
                        let b = Int32(sourceRow[Int(xTable.second[x])])
                        target[x] = a &* xw0[x] &+ b &* xw1[x]
                    }
                }
            }
        }

        // Vertical pass: OpenCV's SIMD arithmetic (16-bit multiply-high on values shifted right by 4).
        var output = [UInt8](repeating: 0, count: newWidth * newHeight)
        output.withUnsafeMutableBufferPointer { out in
            rows.withUnsafeBufferPointer { rowBuffer in
                for y in 0..<newHeight {
                    let row0 = rowBuffer.baseAddress! + Int(yTable.first[y]) * newWidth
                    let row1 = rowBuffer.baseAddress! + Int(yTable.second[y]) * newWidth
                    let b0 = yw0[y], b1 = yw1[y]
                    let target = out.baseAddress! + y * newWidth
                    for x in 0..<newWidth {
                        let t0 = ((row0[x] >> 4) &* b0) >> 16
                        let t1 = ((row1[x] >> 4) &* b1) >> 16
                        let value = (t0 &+ t1 &+ 2) >> 2
                        target[x] = UInt8(clamping: value)
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

extension Image where Pixel == Float {
    /// cv2.resize(self, (width, height), interpolation=cv2.INTER_LINEAR) on a float32 image
    /// (IPP's linear resize, as OpenCV 4.8.1 with IPP runs it), within a few float ulps.
    public func resized(width newWidth: Int, height newHeight: Int) throws -> Image<Float> {
        guard newWidth > 0, newHeight > 0 else { throw ImagingError.invalidSize(width: newWidth, height: newHeight) }
        if newWidth == width && newHeight == height { return self }
        let xTable = LinearAxisTable.ipp(source: width, destination: newWidth)
        let yTable = LinearAxisTable.ipp(source: height, destination: newHeight)
        let sourceWidth = width

        var rows = [Float](repeating: 0, count: height * newWidth)
        rows.withUnsafeMutableBufferPointer { rowBuffer in
            pixels.withUnsafeBufferPointer { source in
                for y in 0..<height {
                    let sourceRow = source.baseAddress! + y * sourceWidth
                    let target = rowBuffer.baseAddress! + y * newWidth
                    for x in 0..<newWidth {
                        let a = sourceRow[Int(xTable.first[x])] * xTable.weight0[x]
                        let b = sourceRow[Int(xTable.second[x])] * xTable.weight1[x]
                        target[x] = a + b
                    }
                }
            }
        }

        var output = [Float](repeating: 0, count: newWidth * newHeight)
        output.withUnsafeMutableBufferPointer { out in
            rows.withUnsafeBufferPointer { rowBuffer in
                for y in 0..<newHeight {
                    let row0 = rowBuffer.baseAddress! + Int(yTable.first[y]) * newWidth
                    let row1 = rowBuffer.baseAddress! + Int(yTable.second[y]) * newWidth
                    let b0 = yTable.weight0[y], b1 = yTable.weight1[y]
                    let target = out.baseAddress! + y * newWidth
                    for x in 0..<newWidth {
                        let a = row0[x] * b0
                        let b = row1[x] * b1
                        target[x] = a + b
                    }
                }
            }
        }
        return Image(validWidth: newWidth, height: newHeight, pixels: output)
    }
}
