import ArrayFiles
import Foundation
import Imaging
import Ingestion

/// What the classifier needs of one series: its uint8 slices (ingest), WT and ET masks (segmentation) and the
/// instance number of every slice, all in the ingest order.
public struct SeriesInput: Sendable {
    public let patientID: String
    public let mriType: MRIType
    public let slicesTotal: Int
    public let slicesNonempty: Int
    /// nil where the slice had no InstanceNumber (ingest then ordered by geometry).
    public let instanceNumbers: [Int?]
    public let slices: [Image<UInt8>]
    public let wholeTumour: [Image<UInt8>]
    public let enhancing: [Image<UInt8>]

    /// Checks that slices, masks and instance numbers agree in count and size, and that masks are {0,1}.
    public init(patientID: String, mriType: MRIType, slicesTotal: Int, slicesNonempty: Int, instanceNumbers: [Int?],
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
        self.patientID = patientID
        self.mriType = mriType
        self.slicesTotal = slicesTotal
        self.slicesNonempty = slicesNonempty
        self.instanceNumbers = instanceNumbers
        self.slices = slices
        self.wholeTumour = wholeTumour
        self.enhancing = enhancing
    }

    public static let slicesFile = IngestedSeries.uint8ImageFileName
    public static let masksFile = "masks.npy"

    /// Reads a series directory after `ingest` and `seg-worker`: series.json, image_uint8.npy (S,H,W) and
    /// masks.npy (S,2,H,W).
    public init(directory: URL) throws {
        let metadata = try SeriesInput.metadata(in: directory)
        let slicesArray = try NpyArray(contentsOf: directory.appendingPathComponent(Self.slicesFile))
        let masksArray = try NpyArray(contentsOf: directory.appendingPathComponent(Self.masksFile))
        guard slicesArray.shape.count == 3, let sliceValues = slicesArray.uint8Values else {
            throw ClassificationError.invalidInput("\(Self.slicesFile) must be uint8 (S,H,W), found shape \(slicesArray.shape)")
        }
        guard masksArray.shape.count == 4, masksArray.shape[1] == 2, let maskValues = masksArray.uint8Values else {
            throw ClassificationError.invalidInput("\(Self.masksFile) must be uint8 (S,2,H,W), found shape \(masksArray.shape)")
        }
        guard masksArray.shape[0] == slicesArray.shape[0] else {
            throw ClassificationError.countMismatch(what: "mask pairs in \(Self.masksFile) for the slices of \(Self.slicesFile)",
                                                    expected: slicesArray.shape[0], found: masksArray.shape[0])
        }
        guard Array(masksArray.shape[2...]) == Array(slicesArray.shape[1...]) else {
            throw ClassificationError.sizeMismatch(what: "\(Self.masksFile) against \(Self.slicesFile)",
                                                   expected: Array(slicesArray.shape[1...]), found: Array(masksArray.shape[2...]))
        }
        let (count, height, width) = (slicesArray.shape[0], slicesArray.shape[1], slicesArray.shape[2])
        let plane = height * width
        func image(_ values: [UInt8], _ index: Int) throws -> Image<UInt8> {
            try Image(width: width, height: height, pixels: Array(values[(index * plane)..<((index + 1) * plane)]))
        }
        try self.init(
            patientID: metadata.patientID, mriType: metadata.mriType, slicesTotal: metadata.slicesTotal,
            slicesNonempty: metadata.slicesNonempty, instanceNumbers: metadata.instanceNumbers,
            slices: (0..<count).map { try image(sliceValues, $0) },
            wholeTumour: (0..<count).map { try image(maskValues, 2 * $0) },
            enhancing: (0..<count).map { try image(maskValues, 2 * $0 + 1) })
    }
}

extension SeriesInput {
    /// The ingest stage's series.json of a series directory.
    static func metadata(in directory: URL) throws -> SeriesMetadata {
        do {
            return try IngestedSeries.readMetadata(from: directory)
        } catch {
            throw ClassificationError.unreadable(path: directory.appendingPathComponent(IngestedSeries.metadataFileName).path,
                                                 reason: String(describing: error))
        }
    }
}
