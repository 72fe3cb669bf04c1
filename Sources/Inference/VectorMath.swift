import CKernels

/// Element-wise math for activation passes, where a libm `expf` call per element costs more than the arithmetic
/// around it. The array passes run in CKernels, compiled per instruction set (16 floats per instruction with
/// AVX-512, 8 with AVX2; Swift's baseline x86-64 gets 4) and chosen on CPUID; every variant gives the same bits.
/// exp follows Cephes' expf (range reduction by ln 2 in two parts, degree-6 polynomial): within 2 ulp of `expf`
/// over the float range; the scalar `exp` here and the kernels' compute it identically.
public enum VectorMath {
    @inline(__always)
    public static func exp(_ x: Float) -> Float {
        let low: Float = -87.33654, high: Float = 88.37626
        let clamped = x < low ? low : (x > high ? high : x)
        // Round x·log2(e) to an integer n with the 1.5·2²³ trick: n's bits land in the low mantissa.
        let shifter: Float = 12_582_912
        let shifted = clamped * 1.442_695_040_888_963_4 + shifter
        let n = shifted - shifter
        let r = clamped - n * 0.693_359_375 + n * 2.121_944_4e-4
        var p: Float = 1.987_569_15e-4
        p = p * r + 1.398_199_950_7e-3
        p = p * r + 8.333_451_907_3e-3
        p = p * r + 4.166_579_589_4e-2
        p = p * r + 1.666_666_545_9e-1
        p = p * r + 5.000_000_120_1e-1
        p = p * r * r + r + 1
        let integer = Int32(bitPattern: shifted.bitPattern) &- Int32(bitPattern: shifter.bitPattern)
        return p * Float(bitPattern: UInt32(bitPattern: (integer &+ 127) &<< 23))
    }

    /// v ← SiLU(v + shift) · factor for every value: a bias, PyTorch's SiLU and a scale in one pass.
    public static func silu(_ values: UnsafeMutablePointer<Float>, count: Int, shift: Float = 0, factor: Float = 1) {
        silu(from: UnsafePointer(values), to: values, count: count, shift: shift, factor: factor)
    }

    /// output ← SiLU(input + shift) · factor, where SiLU(v) = v · sigmoid(v).
    public static func silu(
        from input: UnsafePointer<Float>, to output: UnsafeMutablePointer<Float>, count: Int, shift: Float = 0, factor: Float = 1
    ) {
        ck_active().pointee.silu(input, output, count, shift, factor)
    }

    /// PyTorch's sigmoid, 1 / (1 + e^−x), on `exp` above.
    @inline(__always)
    public static func sigmoid(_ x: Float) -> Float { 1 / (1 + exp(-x)) }

    /// v ← sigmoid(v + shift) for every value.
    public static func sigmoid(_ values: UnsafeMutablePointer<Float>, count: Int, shift: Float = 0) {
        ck_active().pointee.sigmoid(values, values, count, shift)
    }

    /// v ← max(v + shift, 0) for every value: a bias and ReLU in one pass.
    public static func relu(_ values: UnsafeMutablePointer<Float>, count: Int, shift: Float = 0) {
        ck_active().pointee.bias_relu(values, values, count, shift)
    }

    /// output ← x · scale + addend (a gated branch plus its shortcut); output may be x.
    public static func scaleAdd(
        _ x: UnsafePointer<Float>, scale: Float, plus addend: UnsafePointer<Float>, into output: UnsafeMutablePointer<Float>, count: Int
    ) {
        ck_active().pointee.scale_add(x, scale, addend, output, count)
    }

    /// The mean of `count` values, summed in double precision (16 interleaved partial sums).
    public static func mean(_ values: UnsafePointer<Float>, count: Int) -> Float {
        Float(ck_active().pointee.sum(values, count) / Double(count))
    }
}
