import Imaging

/// T4E's `has_good_features` for one slice: is the whole-tumour mask there, few-pieced and large enough
/// relative to the brain for the slice to be classified?
///
/// Brain: the uint8 slice's pixels > 1; its area is the largest contour area. Tumour: the WT mask's non-zero
/// pixels; every contour counts (holes and nested ones too, as OpenCV's RETR_TREE lists them). Areas are polygon
/// areas of the traced borders (`contourArea`), not pixel counts. Where the reference raises (no brain contour,
/// or a brain area of 0), its process pool drops the slice: such a slice is not kept.
public struct SliceSelection: Sendable, Equatable {
    public static let brainThreshold: UInt8 = 1
    public static let minimumAreaRatio = 0.025
    public static let maximumTumourContours = 5

    public let brainContours: Int
    public let brainArea: Double
    public let tumourContours: Int
    public let tumourArea: Double

    public var isKept: Bool {
        tumourContours >= 1 && tumourContours <= Self.maximumTumourContours && brainArea > 0
            && tumourArea / brainArea > Self.minimumAreaRatio
    }

    public init(slice: Image<UInt8>, wholeTumour: Image<UInt8>) throws {
        guard slice.width == wholeTumour.width, slice.height == wholeTumour.height else {
            throw ClassificationError.sizeMismatch(
                what: "slice and its whole-tumour mask", expected: [slice.height, slice.width],
                found: [wholeTumour.height, wholeTumour.width])
        }
        let brain = try Image(width: slice.width, height: slice.height,
                              pixels: slice.pixels.map { $0 > Self.brainThreshold ? UInt8(1) : 0 })
        let brainAreas = findContours(brain).map(\.area)
        let tumourAreas = findContours(wholeTumour).map(\.area)
        brainContours = brainAreas.count
        brainArea = brainAreas.max() ?? 0
        tumourContours = tumourAreas.count
        tumourArea = tumourAreas.max() ?? 0
    }
}
