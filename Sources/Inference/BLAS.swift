import COpenBLAS

/// The engine's only door to OpenBLAS: single-precision GEMM and the library's thread settings.
public enum BLAS {
    /// C = alpha · op(A) · op(B) + beta · C, all matrices row-major; op(X) is X or Xᵀ.
    /// op(A) is m×k, op(B) is k×n, C is m×n; lda/ldb/ldc are the row strides of A, B, C as stored.
    @inlinable
    public static func sgemm(
        transposeA: Bool = false, transposeB: Bool = false,
        m: Int, n: Int, k: Int,
        alpha: Float = 1,
        a: UnsafePointer<Float>, lda: Int,
        b: UnsafePointer<Float>, ldb: Int,
        beta: Float = 0,
        c: UnsafeMutablePointer<Float>, ldc: Int
    ) {
        cblas_sgemm(
            CblasRowMajor,
            transposeA ? CblasTrans : CblasNoTrans,
            transposeB ? CblasTrans : CblasNoTrans,
            Int32(m), Int32(n), Int32(k), alpha, a, Int32(lda), b, Int32(ldb), beta, c, Int32(ldc))
    }

    /// OpenBLAS's own thread count for one sgemm call (process-wide).
    public static var threadCount: Int {
        get { Int(openblas_get_num_threads()) }
        set { openblas_set_num_threads(Int32(max(1, newValue))) }
    }

    /// The kernel family OpenBLAS chose at load time (e.g. "SkylakeX", "Haswell"); worth logging, since
    /// OPENBLAS_CORETYPE decides it before the program starts.
    public static var coreName: String {
        guard let name = openblas_get_corename() else { return "unknown" }
        return String(cString: name)
    }
}
