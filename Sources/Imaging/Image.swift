// A single-plane image over one contiguous row-major buffer. Multi-channel images are handled as one
// `Image` per channel: OpenCV's resize, warpAffine, copyMakeBorder and crops treat channels
// independently, so per-plane results equal OpenCV's on the interleaved image.

/// Pixel types the image operations support.
public protocol PixelValue: Sendable, Equatable, AdditiveArithmetic {}
extension UInt8: PixelValue {}
extension Float: PixelValue {}

public struct Image<Pixel: PixelValue>: Sendable, Equatable {
    public let width: Int
    public let height: Int
    /// Row-major, `height * width` values.
    public var pixels: [Pixel]

    /// Wraps `pixels` (row-major); throws unless it holds exactly `width * height` values.
    public init(width: Int, height: Int, pixels: [Pixel]) throws {
        guard width > 0, height > 0 else { throw ImagingError.invalidSize(width: width, height: height) }
        guard pixels.count == width * height else {
            throw ImagingError.pixelCountMismatch(expected: width * height, actual: pixels.count)
        }
        self.width = width
        self.height = height
        self.pixels = pixels
    }

    /// An image filled with `value` (zero by default).
    public init(width: Int, height: Int, repeating value: Pixel = .zero) throws {
        guard width > 0, height > 0 else { throw ImagingError.invalidSize(width: width, height: height) }
        self.width = width
        self.height = height
        self.pixels = [Pixel](repeating: value, count: width * height)
    }

    /// Internal fast path for operations that already know the sizes are valid.
    init(validWidth width: Int, height: Int, pixels: [Pixel]) {
        self.width = width
        self.height = height
        self.pixels = pixels
    }

    public subscript(y: Int, x: Int) -> Pixel {
        get { pixels[y * width + x] }
        set { pixels[y * width + x] = newValue }
    }

    /// Splits an interleaved H×W×C buffer (OpenCV/NumPy HWC layout) into C planes.
    public static func planes(interleaved: [Pixel], width: Int, height: Int, channels: Int) throws -> [Image] {
        guard width > 0, height > 0 else { throw ImagingError.invalidSize(width: width, height: height) }
        guard channels > 0 else { throw ImagingError.invalidArgument("channels must be positive, got \(channels)") }
        guard interleaved.count == width * height * channels else {
            throw ImagingError.pixelCountMismatch(expected: width * height * channels, actual: interleaved.count)
        }
        let count = width * height
        return (0..<channels).map { channel in
            var plane = [Pixel](repeating: .zero, count: count)
            interleaved.withUnsafeBufferPointer { source in
                plane.withUnsafeMutableBufferPointer { target in
                    for i in 0..<count { target[i] = source[i * channels + channel] }
                }
            }
            return Image(validWidth: width, height: height, pixels: plane)
        }
    }

    /// Interleaves equally sized planes into one H×W×C buffer (HWC layout).
    public static func interleave(_ planes: [Image]) throws -> [Pixel] {
        guard let first = planes.first else { throw ImagingError.invalidArgument("no planes to interleave") }
        for plane in planes where plane.width != first.width || plane.height != first.height {
            throw ImagingError.sizeMismatch(
                expected: (first.width, first.height), actual: (plane.width, plane.height))
        }
        let channels = planes.count
        let count = first.width * first.height
        var result = [Pixel](repeating: .zero, count: count * channels)
        result.withUnsafeMutableBufferPointer { target in
            for (channel, plane) in planes.enumerated() {
                plane.pixels.withUnsafeBufferPointer { source in
                    for i in 0..<count { target[i * channels + channel] = source[i] }
                }
            }
        }
        return result
    }
}

public enum ImagingError: Error, CustomStringConvertible, Equatable {
    case invalidSize(width: Int, height: Int)
    case pixelCountMismatch(expected: Int, actual: Int)
    case sizeMismatch(expected: (Int, Int), actual: (Int, Int))
    case cropOutOfBounds(x: Int, y: Int, width: Int, height: Int, imageWidth: Int, imageHeight: Int)
    case invalidArgument(String)

    public var description: String {
        switch self {
        case let .invalidSize(width, height):
            return "invalid image size \(width)×\(height): both must be positive"
        case let .pixelCountMismatch(expected, actual):
            return "pixel buffer holds \(actual) values, expected \(expected)"
        case let .sizeMismatch(expected, actual):
            return "image is \(actual.0)×\(actual.1), expected \(expected.0)×\(expected.1)"
        case let .cropOutOfBounds(x, y, width, height, imageWidth, imageHeight):
            return "crop \(width)×\(height) at (\(x), \(y)) does not fit in a \(imageWidth)×\(imageHeight) image"
        case let .invalidArgument(message):
            return message
        }
    }

    public static func == (lhs: ImagingError, rhs: ImagingError) -> Bool {
        lhs.description == rhs.description
    }
}
