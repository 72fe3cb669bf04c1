/// The convolutions' shared im2col core: the in-plane geometry of a convolution window and the patch row it
/// gathers from one input plane. `Conv2d` builds its columns from these rows, `Conv3d` from the same rows of
/// every input plane its depth taps meet.
struct PatchRows {
    let stride: Pair2D
    let padding: Pair2D
    let dilation: Pair2D

    /// One im2col row for one input plane: the values kernel tap (ky, kx) meets at every output position,
    /// outputHeight·outputWidth contiguous floats (zeros where the tap falls in the padding).
    @inline(__always)
    func gather(
        _ plane: UnsafePointer<Float>, height: Int, width: Int, ky: Int, kx: Int, outputHeight oh: Int, outputWidth ow: Int,
        into row: UnsafeMutablePointer<Float>
    ) {
        let xOffset = kx * dilation.x - padding.x
        // Output columns whose input column lies inside the image: ox in [first, last).
        let first = min(ow, max(0, (-xOffset + stride.x - 1) / stride.x))
        let last = max(first, min(ow, (width - xOffset + stride.x - 1) / stride.x))
        for oy in 0..<oh {
            let iy = oy * stride.y - padding.y + ky * dilation.y
            let dst = row + oy * ow
            guard iy >= 0 && iy < height else {
                dst.update(repeating: 0, count: ow)
                continue
            }
            let src = plane + iy * width
            if first > 0 { dst.update(repeating: 0, count: first) }
            if stride.x == 1 {
                (dst + first).update(from: src + first + xOffset, count: last - first)
            } else {
                for ox in first..<last { dst[ox] = src[ox * stride.x + xOffset] }
            }
            if last < ow { (dst + last).update(repeating: 0, count: ow - last) }
        }
    }
}
