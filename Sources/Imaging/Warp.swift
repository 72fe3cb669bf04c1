// cv2.warpAffine(src, M, dsize, flags=INTER_LINEAR, borderMode=BORDER_CONSTANT, borderValue=0) as
// OpenCV 4.8.1 computes it (imgwarp.cpp: WarpAffineInvoker + remapBilinear).
//
// - Without WARP_INVERSE_MAP, M is the forward map and OpenCV inverts it in double precision.
// - Source coordinates are quantised to 1/32 pixel for every depth: per column
//   adelta = cvRound(M00 * x * 1024), per row X0 = cvRound((M01 * y + M02) * 1024) + 16, then
//   X = (X0 + adelta) >> 5; integer part X >> 5, fraction X & 31 (likewise for y).
// - The 4 weights come from a 32×32 table of products of (1 - i/32, i/32) (exact in float).
//   UInt8: weights × 32768 (INTER_REMAP_COEF_BITS 15), sum + 16384 >> 15, saturated.
//   Float: v00*w00 + v01*w01 + v10*w10 + v11*w11 in float, in that order.
// - Samples outside the source image take the border value 0; a pixel whose whole 2×2 footprint is
//   outside is 0.

/// A 2×3 affine matrix mapping (x, y) to (a·x + b·y + c, d·x + e·y + f), OpenCV's row order.
public struct AffineMatrix: Sendable, Equatable {
    public var a: Double, b: Double, c: Double
    public var d: Double, e: Double, f: Double

    public init(a: Double, b: Double, c: Double, d: Double, e: Double, f: Double) {
        self.a = a; self.b = b; self.c = c
        self.d = d; self.e = e; self.f = f
    }

    /// albumentations 1.1.0 `Affine(scale=s)` for an image of this size (no rotation, shear or
    /// translation): scale about the pixel-centre point (w/2 - 0.5, h/2 - 0.5). This is the forward
    /// map that albumentations passes to cv2.warpAffine (without WARP_INVERSE_MAP). albumentations
    /// builds it as a product of skimage transforms (with ±90° rotations cancelling), so its
    /// translation can differ from this one in the last bit; the 1/1024 quantisation hides that
    /// (for scale 1.2 the products land on thirds, never on a rounding tie).
    public static func albumentationsZoom(scale: Double, width: Int, height: Int) -> AffineMatrix {
        let shiftX = Double(width) / 2 - 0.5
        let shiftY = Double(height) / 2 - 0.5
        return AffineMatrix(a: scale, b: 0, c: shiftX + scale * -shiftX,
                            d: 0, e: scale, f: shiftY + scale * -shiftY)
    }

    /// The inverse map, as cv::warpAffine (and invertAffineTransform) compute it; a singular matrix
    /// inverts to all zeros, as in OpenCV.
    public func inverted() -> AffineMatrix {
        var determinant = a * e - b * d
        determinant = determinant != 0 ? 1 / determinant : 0
        let ia = e * determinant, ib = -b * determinant
        let id = -d * determinant, ie = a * determinant
        return AffineMatrix(a: ia, b: ib, c: -ia * c - ib * f,
                            d: id, e: ie, f: -id * c - ie * f)
    }
}

/// Per-pixel integer source position and 1/32-pixel fraction, as OpenCV's warpAffine quantises them.
private struct QuantisedAffineMap {
    static let fractionBits = 5            // INTER_BITS
    static let tableSize = 1 << fractionBits
    static let accumulatorBits = 10        // AB_BITS = max(10, INTER_BITS)

    let adelta: [Int]
    let bdelta: [Int]
    let inverse: AffineMatrix

    init(inverse: AffineMatrix, width: Int) {
        let scale = Double(1 << Self.accumulatorBits)
        self.inverse = inverse
        adelta = (0..<width).map { x in cvRound(inverse.a * Double(x) * scale) }
        bdelta = (0..<width).map { x in cvRound(inverse.d * Double(x) * scale) }
    }

    /// Row start values X0, Y0 including OpenCV's rounding delta (1024 / 32 / 2).
    func rowOrigin(_ y: Int) -> (Int, Int) {
        let scale = Double(1 << Self.accumulatorBits)
        let roundDelta = (1 << Self.accumulatorBits) / Self.tableSize / 2
        return (cvRound((inverse.b * Double(y) + inverse.c) * scale) + roundDelta,
                cvRound((inverse.e * Double(y) + inverse.f) * scale) + roundDelta)
    }
}

/// cvRound/saturate_cast<int>(double): round half to even, saturated to Int32.
@inline(__always)
func cvRound(_ value: Double) -> Int {
    let rounded = value.rounded(.toNearestOrEven)
    if rounded.isNaN { return Int(Int32.min) }
    return Int(max(min(rounded, Double(Int32.max)), Double(Int32.min)))
}

/// Bilinear weights for the 32×32 fraction table: (1-fy)(1-fx), (1-fy)fx, fy(1-fx), fy·fx.
private let bilinearFloatTable: [Float] = {
    let n = QuantisedAffineMap.tableSize
    var table = [Float](repeating: 0, count: n * n * 4)
    for i in 0..<n {
        let fy = Float(i) * (1 / Float(n))
        for j in 0..<n {
            let fx = Float(j) * (1 / Float(n))
            let base = (i * n + j) * 4
            table[base] = (1 - fy) * (1 - fx)
            table[base + 1] = (1 - fy) * fx
            table[base + 2] = fy * (1 - fx)
            table[base + 3] = fy * fx
        }
    }
    return table
}()

/// The same weights in 15-bit fixed point (exact: every product is a multiple of 1/1024).
private let bilinearFixedTable: [Int32] = bilinearFloatTable.map { Int32(($0 * 32768).rounded(.toNearestOrEven)) }

/// Runs the quantised warp, handing each output pixel's 2×2 source samples (0 outside) and table
/// index to `interpolate`.
@inline(__always)
private func warpAffineKernel<Pixel: PixelValue>(
    source: Image<Pixel>, inverse: AffineMatrix, width: Int, height: Int,
    interpolate: (Pixel, Pixel, Pixel, Pixel, Int) -> Pixel
) -> Image<Pixel> {
    let map = QuantisedAffineMap(inverse: inverse, width: width)
    let shift = QuantisedAffineMap.accumulatorBits - QuantisedAffineMap.fractionBits
    let bits = QuantisedAffineMap.fractionBits
    let mask = QuantisedAffineMap.tableSize - 1
    let sw = source.width, sh = source.height
    var output = [Pixel](repeating: .zero, count: width * height)
    output.withUnsafeMutableBufferPointer { out in
        source.pixels.withUnsafeBufferPointer { src in
            map.adelta.withUnsafeBufferPointer { adelta in
                map.bdelta.withUnsafeBufferPointer { bdelta in
                    for y in 0..<height {
                        let (x0, y0) = map.rowOrigin(y)
                        let outRow = out.baseAddress! + y &* width
                        for x in 0..<width {
                            let fixedX = (x0 &+ adelta[x]) >> shift
                            let fixedY = (y0 &+ bdelta[x]) >> shift
                            // OpenCV stores the integer part as a saturated short.
                            let sx = max(min(fixedX >> bits, Int(Int16.max)), Int(Int16.min))
                            let sy = max(min(fixedY >> bits, Int(Int16.max)), Int(Int16.min))
                            let tableIndex = (fixedY & mask) &* QuantisedAffineMap.tableSize &+ (fixedX & mask)
                            let v00: Pixel, v01: Pixel, v10: Pixel, v11: Pixel
                            // One unsigned compare per axis: 0 ≤ sx < sw - 1 and 0 ≤ sy < sh - 1.
                            if UInt(bitPattern: sx) < UInt(bitPattern: sw &- 1), UInt(bitPattern: sy) < UInt(bitPattern: sh &- 1) {
                                let p = src.baseAddress! + (sy &* sw &+ sx)
                                v00 = p[0]; v01 = p[1]; v10 = p[sw]; v11 = p[sw &+ 1]
                            } else if sx >= sw || sx < -1 || sy >= sh || sy < -1 {
                                continue  // entirely outside: border value 0
                            } else {
                                let x0In = sx >= 0 && sx < sw, x1In = sx + 1 >= 0 && sx + 1 < sw
                                let y0In = sy >= 0 && sy < sh, y1In = sy + 1 >= 0 && sy + 1 < sh
                                v00 = x0In && y0In ? src[sy * sw + sx] : .zero
                                v01 = x1In && y0In ? src[sy * sw + sx + 1] : .zero
                                v10 = x0In && y1In ? src[(sy + 1) * sw + sx] : .zero
                                v11 = x1In && y1In ? src[(sy + 1) * sw + sx + 1] : .zero
                            }
                            outRow[x] = interpolate(v00, v01, v10, v11, tableIndex &* 4)
                        }
                    }
                }
            }
        }
    }
    return Image(validWidth: width, height: height, pixels: output)
}

extension Image where Pixel == UInt8 {
    /// cv2.warpAffine(self, M, (width, height), flags=INTER_LINEAR [| WARP_INVERSE_MAP],
    /// borderMode=BORDER_CONSTANT, borderValue=0), bit-exact. Size defaults to the input's.
    public func warpedAffine(_ matrix: AffineMatrix, width: Int? = nil, height: Int? = nil,
                             inverseMap: Bool = false) throws -> Image<UInt8> {
        let outWidth = width ?? self.width, outHeight = height ?? self.height
        try Self.validate(width: outWidth, height: outHeight)
        let inverse = inverseMap ? matrix : matrix.inverted()
        return bilinearFixedTable.withUnsafeBufferPointer { table in
            warpAffineKernel(source: self, inverse: inverse, width: outWidth, height: outHeight) { v00, v01, v10, v11, t in
                let sum = Int32(v00) &* table[t] &+ Int32(v01) &* table[t &+ 1]
                    &+ Int32(v10) &* table[t &+ 2] &+ Int32(v11) &* table[t &+ 3]
                return UInt8(clamping: (sum &+ (1 << 14)) >> 15)
            }
        }
    }

    /// albumentations 1.1.0 `Affine(scale=scale)` (bilinear, constant 0, same size) on this image.
    public func zoomed(scale: Double) throws -> Image<UInt8> {
        try warpedAffine(.albumentationsZoom(scale: scale, width: width, height: height))
    }
}

extension Image where Pixel == Float {
    /// cv2.warpAffine on a float32 image with INTER_LINEAR and BORDER_CONSTANT 0 (same quantised
    /// coordinates as the uint8 path, float weights, no rounding). Size defaults to the input's.
    public func warpedAffine(_ matrix: AffineMatrix, width: Int? = nil, height: Int? = nil,
                             inverseMap: Bool = false) throws -> Image<Float> {
        let outWidth = width ?? self.width, outHeight = height ?? self.height
        try Self.validate(width: outWidth, height: outHeight)
        let inverse = inverseMap ? matrix : matrix.inverted()
        return bilinearFloatTable.withUnsafeBufferPointer { table in
            warpAffineKernel(source: self, inverse: inverse, width: outWidth, height: outHeight) { v00, v01, v10, v11, t in
                v00 * table[t] + v01 * table[t &+ 1] + v10 * table[t &+ 2] + v11 * table[t &+ 3]
            }
        }
    }

    /// albumentations 1.1.0 `Affine(scale=scale)` (bilinear, constant 0, same size) on this image.
    public func zoomed(scale: Double) throws -> Image<Float> {
        try warpedAffine(.albumentationsZoom(scale: scale, width: width, height: height))
    }
}
