import Foundation

// The parts of `series.json` that ingest computes: value records, written and read with the series directory.

/// The smallest and largest value of a series (over its kept slices): the normalisation bounds.
public struct IntensityRange: Codable, Sendable, Equatable {
    public var min: Float
    public var max: Float

    public init(min: Float, max: Float) {
        self.min = min
        self.max = max
    }
}

/// Borovec's projection crop (kaggle_vol-3D-classify `crop_volume`): for each axis, the sum over the other two
/// axes divided by the volume's voxel count; the kept range runs from the first to the last index whose
/// projection is ≥ `threshold` (the whole axis when none is).
public struct ProjectionCrop: Codable, Sendable, Equatable {
    public var threshold: Double
    /// Half-open index ranges [lower, upper) along each axis of the volume it was computed on.
    public var slices: ClosedOpen
    public var rows: ClosedOpen
    public var columns: ClosedOpen
    /// Axes the crop was applied to in the stored arrays: "slices", and "rows", "columns" when in-plane.
    public var applied: [String]

    public init(threshold: Double, slices: ClosedOpen, rows: ClosedOpen, columns: ClosedOpen, applied: [String]) {
        self.threshold = threshold
        self.slices = slices
        self.rows = rows
        self.columns = columns
        self.applied = applied
    }

    public struct ClosedOpen: Codable, Sendable, Equatable {
        public var lower: Int
        public var upper: Int
        public init(_ range: Range<Int>) {
            lower = range.lowerBound
            upper = range.upperBound
        }
        public var range: Range<Int> { lower..<upper }
    }
}

/// How a series was ordered and whether its geometry agrees.
public struct OrderCheck: Codable, Sendable, Equatable {
    public enum Method: String, Codable, Sendable { case instanceNumber = "instance_number", geometry }
    public enum Status: String, Codable, Sendable {
        /// Positions along the slice normal move strictly one way with even steps.
        case consistent
        /// Positions go back and forth or repeat along the InstanceNumber order.
        case disagrees
        /// A step is more than 1.5× the median spacing, or instance numbers skip.
        case gaps
        /// No usable geometry (absent, or multi-frame files whose per-frame positions are not read).
        case unchecked
    }

    public var method: Method
    public var status: Status
    /// Median spacing along the normal (mm), when geometry was usable.
    public var spacing: Double?
    public var detail: String?

    public init(method: Method, status: Status, spacing: Double?, detail: String?) {
        self.method = method
        self.status = status
        self.spacing = spacing
        self.detail = detail
    }
}
