import CPNG

public enum PicturesError: Error, CustomStringConvertible, Equatable {
    case png(String)
    case noSlices
    case slicesDifferInSize

    public var description: String {
        switch self {
        case .png(let message): return "PNG: \(message)"
        case .noSlices: return "a preview needs at least one slice"
        case .slicesDifferInSize: return "the slices of a series differ in size"
        }
    }
}

/// PNG files through libpng's simplified API (8-bit RGB).
public enum PNG {
    public static func encode(_ image: RGBImage) throws -> [UInt8] {
        var control = png_image()
        control.version = png_uint_32(MGMT_PNG_IMAGE_VERSION)
        control.width = png_uint_32(image.width)
        control.height = png_uint_32(image.height)
        control.format = png_uint_32(MGMT_PNG_FORMAT_RGB)
        let stride = png_int_32(image.width * 3)
        return try image.bytes.withUnsafeBytes { pixels in
            var size: png_alloc_size_t = 0
            // First call: the size the compressed image needs; second: the image itself.
            guard png_image_write_to_memory(&control, nil, &size, 0, pixels.baseAddress, stride, nil) != 0 else {
                throw PicturesError.png(message(of: &control))
            }
            var output = [UInt8](repeating: 0, count: Int(size))
            let written = output.withUnsafeMutableBytes {
                png_image_write_to_memory(&control, $0.baseAddress, &size, 0, pixels.baseAddress, stride, nil)
            }
            guard written != 0 else { throw PicturesError.png(message(of: &control)) }
            return Array(output.prefix(Int(size)))
        }
    }

    /// Any PNG libpng reads, converted to 8-bit RGB.
    public static func decode(_ data: [UInt8]) throws -> RGBImage {
        var control = png_image()
        control.version = png_uint_32(MGMT_PNG_IMAGE_VERSION)
        let began = data.withUnsafeBytes { png_image_begin_read_from_memory(&control, $0.baseAddress, $0.count) }
        guard began != 0 else { throw PicturesError.png(message(of: &control)) }
        defer { png_image_free(&control) }
        control.format = png_uint_32(MGMT_PNG_FORMAT_RGB)
        let width = Int(control.width), height = Int(control.height)
        guard width > 0, height > 0, width * height <= 1 << 28 else {
            throw PicturesError.png("unsupported size \(width)×\(height)")
        }
        var bytes = [UInt8](repeating: 0, count: width * height * 3)
        let finished = bytes.withUnsafeMutableBytes {
            png_image_finish_read(&control, nil, $0.baseAddress, png_int_32(width * 3), nil)
        }
        guard finished != 0 else { throw PicturesError.png(message(of: &control)) }
        return RGBImage(width: width, height: height, bytes: bytes)
    }

    private static func message(of control: inout png_image) -> String {
        withUnsafeBytes(of: &control.message) { raw in
            String(decoding: raw.prefix { $0 != 0 }, as: UTF8.self)
        }
    }
}
