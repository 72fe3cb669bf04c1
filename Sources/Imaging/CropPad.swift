// Crops and reflect-101 padding, for any pixel type.

/// Padding amounts on each side of an image.
public struct Padding: Sendable, Equatable {
    public var top: Int, bottom: Int, left: Int, right: Int

    public init(top: Int, bottom: Int, left: Int, right: Int) {
        self.top = top; self.bottom = bottom; self.left = left; self.right = right
    }

    /// albumentations 1.1.0 `PadIfNeeded(min_height, min_width)` (default centre position): a
    /// dimension below its minimum is padded by the difference, int(diff / 2) before and the rest
    /// after; a dimension already large enough is not padded.
    public static func padIfNeeded(width: Int, height: Int, minWidth: Int, minHeight: Int) -> Padding {
        func split(_ size: Int, _ minimum: Int) -> (Int, Int) {
            guard size < minimum else { return (0, 0) }
            let before = (minimum - size) / 2
            return (before, minimum - size - before)
        }
        let (top, bottom) = split(height, minHeight)
        let (left, right) = split(width, minWidth)
        return Padding(top: top, bottom: bottom, left: left, right: right)
    }
}

/// OpenCV borderInterpolate for BORDER_REFLECT_101 (gfedcb|abcdefgh|gfedcba), repeated as often as
/// needed for paddings wider than the image.
@inline(__always)
func reflect101(_ position: Int, _ length: Int) -> Int {
    if length == 1 { return 0 }
    var p = position
    while p < 0 || p >= length {
        p = p < 0 ? -p : 2 * (length - 1) - p
    }
    return p
}

extension Image {
    /// The sub-image of `width`×`height` at (`x`, `y`); throws unless it lies inside the image.
    @_specialize(where Pixel == UInt8)
    @_specialize(where Pixel == Float)
    public func cropped(x: Int, y: Int, width cropWidth: Int, height cropHeight: Int) throws -> Image {
        guard cropWidth > 0, cropHeight > 0, x >= 0, y >= 0,
              cropWidth <= width - x, cropHeight <= height - y else {
            throw ImagingError.cropOutOfBounds(x: x, y: y, width: cropWidth, height: cropHeight,
                                               imageWidth: width, imageHeight: height)
        }
        var output = [Pixel]()
        output.reserveCapacity(cropWidth * cropHeight)
        for row in y..<(y + cropHeight) {
            output.append(contentsOf: pixels[(row * width + x)..<(row * width + x + cropWidth)])
        }
        return Image(validWidth: cropWidth, height: cropHeight, pixels: output)
    }

    /// albumentations 1.1.0 `CenterCrop(height, width)`: offsets (H - h) // 2 and (W - w) // 2;
    /// throws if the crop is larger than the image (as albumentations raises).
    @_specialize(where Pixel == UInt8)
    @_specialize(where Pixel == Float)
    public func centreCropped(width cropWidth: Int, height cropHeight: Int) throws -> Image {
        guard cropWidth <= width, cropHeight <= height else {
            throw ImagingError.cropOutOfBounds(x: (width - cropWidth) / 2, y: (height - cropHeight) / 2,
                                               width: cropWidth, height: cropHeight,
                                               imageWidth: width, imageHeight: height)
        }
        return try cropped(x: (width - cropWidth) / 2, y: (height - cropHeight) / 2,
                           width: cropWidth, height: cropHeight)
    }

    /// cv2.copyMakeBorder(self, top, bottom, left, right, cv2.BORDER_REFLECT_101).
    @_specialize(where Pixel == UInt8)
    @_specialize(where Pixel == Float)
    public func paddedReflect101(_ padding: Padding) throws -> Image {
        guard padding.top >= 0, padding.bottom >= 0, padding.left >= 0, padding.right >= 0 else {
            throw ImagingError.invalidArgument("padding must not be negative: \(padding)")
        }
        let (horizontal, overflowH) = padding.left.addingReportingOverflow(padding.right)
        let (vertical, overflowV) = padding.top.addingReportingOverflow(padding.bottom)
        guard !overflowH, !overflowV, horizontal <= Int(Int32.max) - width, vertical <= Int(Int32.max) - height else {
            throw ImagingError.invalidArgument("padding \(padding) is too large")
        }
        let newWidth = width + horizontal, newHeight = height + vertical
        try Self.validate(width: newWidth, height: newHeight)
        let columns = (0..<newWidth).map { reflect101($0 - padding.left, width) }
        var output = [Pixel](repeating: .zero, count: newWidth * newHeight)
        output.withUnsafeMutableBufferPointer { out in
            pixels.withUnsafeBufferPointer { src in
                for y in 0..<newHeight {
                    let sourceRow = reflect101(y - padding.top, height) * width
                    let target = y * newWidth
                    for x in 0..<newWidth { out[target + x] = src[sourceRow + columns[x]] }
                }
            }
        }
        return Image(validWidth: newWidth, height: newHeight, pixels: output)
    }

    /// albumentations 1.1.0 `PadIfNeeded(minHeight, minWidth, border_mode=BORDER_REFLECT_101)`.
    @_specialize(where Pixel == UInt8)
    @_specialize(where Pixel == Float)
    public func paddedReflect101(minWidth: Int, minHeight: Int) throws -> Image {
        try paddedReflect101(.padIfNeeded(width: width, height: height, minWidth: minWidth, minHeight: minHeight))
    }
}
