import Imaging

/// Test-time augmentation: T4E classified the frames zoomed by 1.2 (`zoom`); `none` skips the zoom; `zoom+none`
/// averages the chunk probabilities of both.
public enum TestTimeAugmentation: String, CaseIterable, Codable, Sendable {
    case zoom
    case none
    case zoomAndNone = "zoom+none"

    /// The frame variants whose chunk probabilities are averaged.
    public var variants: [FrameVariant] {
        switch self {
        case .zoom: return [.zoomed]
        case .none: return [.plain]
        case .zoomAndNone: return [.zoomed, .plain]
        }
    }
}

public enum FrameVariant: Sendable, Hashable {
    /// albumentations `Affine(scale=1.2)` then resize.
    case zoomed
    /// Resize only.
    case plain
}

/// The OpenCV code path a frame takes. T4E pads a short chunk by concatenating float zeros, which makes every
/// frame of that chunk float, so OpenCV keeps fractions there; frames of full chunks stay uint8 and are rounded
/// after the zoom and after the resize.
public enum FramePath: Sendable, Hashable {
    case uint8
    case float
}

/// Builds the classifier's input frames: (slice, WT·255, ET·255) at slice size → zoom → resize to 224 →
/// ImageNet normalisation (albumentations `Normalize`, in float32), channel-planar (3 × 224 × 224).
public enum FrameBuilder {
    public static let side = ECANFNetArchitecture.inputSize
    public static let zoomScale = 1.2
    static let mean: [Float] = [0.485, 0.456, 0.406]
    static let std: [Float] = [0.229, 0.224, 0.225]

    /// Writes the normalised frame of one kept slice to `output` (`ECANFNetArchitecture.frameSize` floats).
    public static func write(
        slice: Image<UInt8>, wholeTumour: Image<UInt8>, enhancing: Image<UInt8>,
        variant: FrameVariant, path: FramePath, to output: UnsafeMutablePointer<Float>
    ) throws {
        let planes = try [slice, scaledMask(wholeTumour), scaledMask(enhancing)]
        for (channel, plane) in planes.enumerated() {
            let values: [Float]
            switch path {
            case .uint8:
                var image = plane
                if variant == .zoomed { image = try image.zoomed(scale: zoomScale) }
                values = try image.resized(width: side, height: side).pixels.map(Float.init)
            case .float:
                var image = try Image(width: plane.width, height: plane.height, pixels: plane.pixels.map(Float.init))
                if variant == .zoomed { image = try image.zoomed(scale: zoomScale) }
                values = try image.resized(width: side, height: side).pixels
            }
            normalize(values, channel: channel, into: output + channel * side * side)
        }
    }

    /// The all-zero padding frame after normalisation (−mean/std per channel; zoom and resize keep zeros).
    public static func writePadding(to output: UnsafeMutablePointer<Float>) {
        for channel in 0..<3 {
            normalize([Float](repeating: 0, count: side * side), channel: channel, into: output + channel * side * side)
        }
    }

    /// albumentations 1.1.0 `normalize`: (v − mean·255) · (1 / (std·255)), every step in float32.
    private static func normalize(_ values: [Float], channel: Int, into output: UnsafeMutablePointer<Float>) {
        let shift = mean[channel] * 255
        let factor = 1 / (std[channel] * 255)
        for i in values.indices { output[i] = (values[i] - shift) * factor }
    }

    /// A {0,1} mask as T4E stores it in the frame: ·255 in uint8 (wrapping, as numpy's uint8 multiply).
    private static func scaledMask(_ mask: Image<UInt8>) throws -> Image<UInt8> {
        try Image(width: mask.width, height: mask.height, pixels: mask.pixels.map { $0 &* 255 })
    }
}
