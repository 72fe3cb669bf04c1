import ArrayFiles

// Images to and from .npy arrays: a series' slices are stored as one (count, H, W) array.
extension NpyArray {
    /// A (count, H, W) array stacking equally sized images.
    public init(stacking images: [Image<Float>]) throws {
        let (width, height) = try Self.commonSize(images)
        try self.init(shape: [images.count, height, width], values: .float32(images.flatMap(\.pixels)))
    }

    /// A (count, H, W) array stacking equally sized images.
    public init(stacking images: [Image<UInt8>]) throws {
        let (width, height) = try Self.commonSize(images)
        try self.init(shape: [images.count, height, width], values: .uint8(images.flatMap(\.pixels)))
    }

    private static func commonSize<P>(_ images: [Image<P>]) throws -> (Int, Int) {
        guard let first = images.first else { throw NpyError.invalidShape([0]) }
        for image in images where image.width != first.width || image.height != first.height {
            throw NpyError.invalidShape([image.height, image.width])
        }
        return (first.width, first.height)
    }

    /// The last two axes as images: an (…, H, W) array gives product(…) images of W×H, in C order.
    public func floatImages() throws -> [Image<Float>] {
        guard case .float32(let v) = values else { throw NpyError.wrongDType(expected: "<f4", actual: values.descriptor) }
        return try images(v)
    }

    /// The last two axes as images: an (…, H, W) array gives product(…) images of W×H, in C order.
    public func byteImages() throws -> [Image<UInt8>] {
        guard case .uint8(let v) = values else { throw NpyError.wrongDType(expected: "|u1", actual: values.descriptor) }
        return try images(v)
    }

    private func images<P>(_ v: [P]) throws -> [Image<P>] {
        guard shape.count >= 2, shape[shape.count - 1] > 0, shape[shape.count - 2] > 0 else {
            throw NpyError.invalidShape(shape)
        }
        let height = shape[shape.count - 2], width = shape[shape.count - 1]
        let planeSize = width * height
        return stride(from: 0, to: v.count, by: planeSize).map {
            Image(validWidth: width, height: height, pixels: Array(v[$0..<($0 + planeSize)]))
        }
    }
}
