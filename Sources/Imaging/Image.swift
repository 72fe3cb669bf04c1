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
    /// Row-major, `height * width` values (change them in place with `withUnsafeMutablePixels`).
    public private(set) var pixels: [Pixel]

    /// Wraps `pixels` (row-major); throws unless it holds exactly `width * height` values.
    public init(width: Int, height: Int, pixels: [Pixel]) throws {
        try Self.validate(width: width, height: height)
        guard pixels.count == width * height else {
            throw ImagingError.pixelCountMismatch(expected: width * height, actual: pixels.count)
        }
        self.width = width
        self.height = height
        self.pixels = pixels
    }

    /// An image filled with `value` (zero by default).
    public init(width: Int, height: Int, repeating value: Pixel = .zero) throws {
        try Self.validate(width: width, height: height)
        self.width = width
        self.height = height
        self.pixels = [Pixel](repeating: value, count: width * height)
    }

    /// Fast path for operations that already know the sizes are valid.
    @usableFromInline
    init(validWidth width: Int, height: Int, pixels: [Pixel]) {
        self.width = width
        self.height = height
        self.pixels = pixels
    }

    /// Sizes every operation accepts: positive, at most Int32.max pixels (OpenCV's limit).
    static func validate(width: Int, height: Int) throws {
        guard width > 0, height > 0 else { throw ImagingError.invalidSize(width: width, height: height) }
        let (count, overflow) = width.multipliedReportingOverflow(by: height)
        guard !overflow, count <= Int(Int32.max) else { throw ImagingError.invalidSize(width: width, height: height) }
    }

    public subscript(y: Int, x: Int) -> Pixel {
        get { pixels[y * width + x] }
        set { pixels[y * width + x] = newValue }
    }

    /// In-place access to the row-major pixels (the count cannot change).
    public mutating func withUnsafeMutablePixels<R>(_ body: (UnsafeMutableBufferPointer<Pixel>) throws -> R) rethrows -> R {
        try pixels.withUnsafeMutableBufferPointer { try body($0) }
    }

    /// A same-sized image of `transform` applied to every pixel (e.g. a threshold or a conversion).
    @inlinable
    public func map<Other: PixelValue>(_ transform: (Pixel) throws -> Other) rethrows -> Image<Other> {
        Image<Other>(validWidth: width, height: height, pixels: try pixels.map(transform))
    }

    /// Splits an interleaved H×W×C buffer (OpenCV/NumPy HWC layout) into C planes.
    @_specialize(where Pixel == UInt8)
    @_specialize(where Pixel == Float)
    public static func planes(interleaved: [Pixel], width: Int, height: Int, channels: Int) throws -> [Image] {
        try validate(width: width, height: height)
        guard channels > 0, channels <= 1 << 16 else {
            throw ImagingError.invalidArgument("channels must be in 1...65536, got \(channels)")
        }
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
    @_specialize(where Pixel == UInt8)
    @_specialize(where Pixel == Float)
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
            return "invalid image size \(width)×\(height): both must be positive, at most 2^31 - 1 pixels"
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
