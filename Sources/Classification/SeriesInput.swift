import Domain
import Foundation
import Imaging
import SeriesFiles

/// What the classifier needs of one series: its uint8 slices (ingest), WT and ET masks (segmentation) and the
/// instance number of every slice, all in the ingest order.
public struct SeriesInput: Sendable {
    public let patientId: String
    public let mriType: MRIType
    public let slicesTotal: Int
    public let slicesNonempty: Int
    /// nil where the slice had no InstanceNumber (ingest then ordered by geometry).
    public let instanceNumbers: [Int?]
    public let slices: [Image<UInt8>]
    public let wholeTumour: [Image<UInt8>]
    public let enhancing: [Image<UInt8>]

    /// Checks that slices, masks and instance numbers agree in count and size, and that masks are {0,1}.
    public init(patientId: String, mriType: MRIType, slicesTotal: Int, slicesNonempty: Int, instanceNumbers: [Int?],
                slices: [Image<UInt8>], wholeTumour: [Image<UInt8>], enhancing: [Image<UInt8>]) throws {
        for (what, count) in [("whole-tumour masks", wholeTumour.count), ("enhancing masks", enhancing.count),
                              ("instance numbers", instanceNumbers.count)] where count != slices.count {
            throw ClassificationError.countMismatch(what: "\(what) for \(slices.count) slices", expected: slices.count, found: count)
        }
        for (i, slice) in slices.enumerated() {
            for mask in [wholeTumour[i], enhancing[i]] where mask.width != slice.width || mask.height != slice.height {
                throw ClassificationError.sizeMismatch(what: "mask of slice \(i)", expected: [slice.height, slice.width],
                                                       found: [mask.height, mask.width])
            }
            if slice.width != slices[0].width || slice.height != slices[0].height {
                throw ClassificationError.sizeMismatch(what: "slice \(i)", expected: [slices[0].height, slices[0].width],
                                                       found: [slice.height, slice.width])
            }
            if wholeTumour[i].pixels.contains(where: { $0 > 1 }) || enhancing[i].pixels.contains(where: { $0 > 1 }) {
                throw ClassificationError.invalidInput("masks of slice \(i) are not {0,1}")
            }
        }
        self.patientId = patientId
        self.mriType = mriType
        self.slicesTotal = slicesTotal
        self.slicesNonempty = slicesNonempty
        self.instanceNumbers = instanceNumbers
        self.slices = slices
        self.wholeTumour = wholeTumour
        self.enhancing = enhancing
    }

    /// Reads a series directory after `ingest` and `seg-worker`: series.json, image_uint8.npy (S,H,W) and
    /// masks.npy (S,2,H,W), their shapes checked against series.json.
    public init(directory url: URL) throws {
        let directory = SeriesDirectory(url)
        let metadata = try SeriesInput.metadata(in: url)
        let slices = try directory.readUInt8Image(metadata: metadata)
        let maskValues = try directory.readMasks(metadata: metadata).uint8Values ?? []
        let (height, width) = (slices.rows, slices.columns)
        let plane = height * width
        func image(_ values: [UInt8], _ index: Int) throws -> Image<UInt8> {
            try Image(width: width, height: height, pixels: Array(values[(index * plane)..<((index + 1) * plane)]))
        }
        try self.init(
            patientId: metadata.patientId, mriType: metadata.mriType, slicesTotal: metadata.slicesTotal,
            slicesNonempty: metadata.slicesNonempty, instanceNumbers: metadata.instanceNumbers,
            slices: (0..<slices.slices).map { try image(slices.values, $0) },
            wholeTumour: (0..<slices.slices).map { try image(maskValues, 2 * $0) },
            enhancing: (0..<slices.slices).map { try image(maskValues, 2 * $0 + 1) })
    }
}

extension SeriesInput {
    /// The ingest stage's series.json of a series directory.
    static func metadata(in url: URL) throws -> SeriesMetadata {
        let directory = SeriesDirectory(url)
        do {
            return try directory.readMetadata()
        } catch {
            throw ClassificationError.unreadable(path: directory.url(of: .metadata).path, reason: String(describing: error))
        }
    }
}
