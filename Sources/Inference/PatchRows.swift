/// The convolutions' shared im2col core: the in-plane geometry of a convolution window and the patch row it
/// gathers from one input plane. `Conv2d` builds its columns from these rows, `Conv3d` from the same rows of
/// every input plane its depth taps meet, a tile of output positions at a time.
struct PatchRows {
    let stride: Pair2D
    let padding: Pair2D
    let dilation: Pair2D

    /// One im2col row for one input plane: the values kernel tap (ky, kx) meets at the output positions
    /// `positions` (row-major over outputHeight × outputWidth; default all), contiguous floats (zeros where the tap
    /// falls in the padding).
    @inline(__always)
    func gather(
        _ plane: UnsafePointer<Float>, height: Int, width: Int, ky: Int, kx: Int, outputHeight oh: Int, outputWidth ow: Int,
        positions: Range<Int>? = nil, into row: UnsafeMutablePointer<Float>
    ) {
        let positions = positions ?? 0..<oh * ow
        let xOffset = kx * dilation.x - padding.x
        // Output columns whose input column lies inside the image: ox in [first, last).
        let first = min(ow, max(0, (-xOffset + stride.x - 1) / stride.x))
        let last = max(first, min(ow, (width - xOffset + stride.x - 1) / stride.x))
        // Output columns [x0, x1) of output row oy go to dst[x0 ..< x1]; the first row may start, the last end, mid-row.
        var (oy, x0) = positions.lowerBound.quotientAndRemainder(dividingBy: ow)
        var position = positions.lowerBound
        while position < positions.upperBound {
            defer { (oy, x0) = (oy + 1, 0) }
            let x1 = min(ow, x0 + positions.upperBound - position)
            let dst = row + (position - positions.lowerBound) - x0
            position += x1 - x0
            let iy = oy * stride.y - padding.y + ky * dilation.y
            guard iy >= 0 && iy < height else {
                (dst + x0).update(repeating: 0, count: x1 - x0)
                continue
            }
            let src = plane + iy * width
            let (inside0, inside1) = (min(max(x0, first), x1), max(min(x1, last), min(max(x0, first), x1)))
            if inside0 > x0 { (dst + x0).update(repeating: 0, count: inside0 - x0) }
            if stride.x == 1 {
                (dst + inside0).update(from: src + inside0 + xOffset, count: inside1 - inside0)
            } else {
                var source = src + inside0 * stride.x + xOffset
                for ox in inside0..<inside1 {
                    dst[ox] = source.pointee
                    source += stride.x
                }
            }
            if x1 > inside1 { (dst + inside1).update(repeating: 0, count: x1 - inside1) }
        }
    }
}

/// `plane` [height][width] into `target` [height + 2·padding.y][width + 2·padding.x] with zeros around it: the
/// bordered copy that the direct convolutions (`GroupedConvolution3x3`, `Conv3d`'s shifted rows) read instead of
/// building columns.
func copyZeroPadded(
    _ plane: UnsafePointer<Float>, height: Int, width: Int, padding: Pair2D, into target: UnsafeMutablePointer<Float>
) {
    let paddedWidth = width + 2 * padding.x
    target.update(repeating: 0, count: padding.y * paddedWidth)
    for y in 0..<height {
        let row = target + (padding.y + y) * paddedWidth
        row.update(repeating: 0, count: padding.x)
        (row + padding.x).update(from: plane + y * width, count: width)
        (row + padding.x + width).update(repeating: 0, count: padding.x)
    }
    (target + (padding.y + height) * paddedWidth).update(repeating: 0, count: padding.y * paddedWidth)
}
