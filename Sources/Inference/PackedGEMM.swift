import CKernels

/// A weight matrix [rows × depth] (a convolution's [out × in·taps]) packed once, at load, for the CKernels GEMM
/// variant active then (CKernelsGEMM.h); only this packed form is kept.
struct PackedWeights: Sendable {
    let rows: Int
    let depth: Int
    private(set) var packed: [Float]
    /// The instruction set of the GEMM variant the weights are packed for.
    private let isa: UInt32

    init(_ raw: [Float], rows: Int) {
        let gemm = ck_gemm_active()!
        self.rows = rows
        depth = raw.count / max(1, rows)
        isa = gemm.pointee.isa.rawValue
        packed = [Float](unsafeUninitializedCapacity: ck_gemm_packed_count(gemm, rows, depth)) { [depth] packed, count in
            ck_gemm_pack_a(gemm, raw, rows, depth, packed.baseAddress)
            count = packed.count
        }
    }

    var gemm: ck_gemm { ck_gemm_variant(ck_isa(rawValue: isa))!.pointee }

    /// Row o times scale[o]: a batch norm that follows, folded in after packing.
    mutating func scaleRows(by scale: [Float]) {
        let (mr, rows, depth) = (Int(gemm.mr), rows, depth)
        packed.withUnsafeMutableBufferPointer { w in
            for i in w.indices {
                // Panel p holds rows p·mr ..< p·mr + mr as [depth][mr]; rows past the last are zero.
                let row = i / (mr * depth) * mr + i % mr
                if row < rows { w[i] *= scale[row] }
            }
        }
    }
}

/// The packed weights and the bias, read by every thread.
struct PackedOperands: @unchecked Sendable {
    let weights: UnsafePointer<Float>
    let bias: UnsafePointer<Float>?
}

/// C [m × n] (+)= packed A [m × k] · B [k × n] as CKernels' GEMM, k in blocks of at most `depthBlock` rows (a
/// strip of B that many rows deep by the micro-kernel's width stays in L1 while the weights pass over it).
struct PackedProduct: @unchecked Sendable {
    let gemm: ck_gemm
    let m: Int
    let k: Int
    let relu: Bool
    let blockRows: Int
    let blocks: [Range<Int>]

    init(gemm: ck_gemm, m: Int, k: Int, relu: Bool, depthBlock: Int) {
        (self.gemm, self.m, self.k, self.relu) = (gemm, m, k, relu)
        let count = (k + depthBlock - 1) / depthBlock
        let blockRows = (k + count - 1) / count
        self.blockRows = blockRows
        blocks = (0..<count).map { ($0 * blockRows)..<min(k, ($0 + 1) * blockRows) }
    }

    /// C (+)= A[outputs, rows] · B[rows], B's row r at b + rowOffsets[r − block start], C's first row that of
    /// output `outputs.lowerBound` (outputs start at a multiple of the micro-tile's rows; all of them by default);
    /// with `store`, the last block adds the bias and applies the activation.
    func multiply(
        _ operands: PackedOperands, outputs: Range<Int>? = nil, rows: Range<Int>, b: UnsafePointer<Float>,
        rowOffsets: UnsafePointer<Int>, n: Int, c: UnsafeMutablePointer<Float>, ldc: Int, accumulate: Bool, store: Bool
    ) {
        let outputs = outputs ?? 0..<m
        let isLast = rows.upperBound == k
        let bias = store ? operands.bias.map { $0 + outputs.lowerBound } : nil
        gemm.multiply(operands.weights + outputs.lowerBound * k, outputs.count, k, rows.lowerBound, rows.count, b, rowOffsets, n,
                      c, ldc, accumulate || rows.lowerBound > 0 ? 1 : 0, store && isLast ? 1 : 0, bias, relu ? 1 : 0)
    }
}
