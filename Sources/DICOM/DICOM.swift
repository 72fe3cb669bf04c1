// The Swift face of CDicom: a decoded DICOM file's header and pixels, and a readable error naming the file.
import CDicom
import Domain

/// Why a file could not be read as a greyscale DICOM image. The description names the file and the problem.
public enum DicomError: Error, Equatable, Sendable, CustomStringConvertible {
    case unreadable(path: String, reason: String)
    case notDicom(path: String, reason: String)
    case truncated(path: String, reason: String)
    case noPixelData(path: String)
    /// No decoder for this transfer syntax (JPEG 2000 in free DCMTK); `name` as DCMTK spells it.
    case unsupportedTransferSyntax(path: String, name: String, uid: String)
    /// Rows or Columns 0 or above `DicomFile.maximumDimension`, or an absurd frame count.
    case absurdDimensions(path: String, reason: String)
    case unsupportedPixelFormat(path: String, reason: String)
    /// A header value that is not finite, not a number or implausible; `reason` names the attribute.
    case invalidAttribute(path: String, reason: String)
    case decodeFailed(path: String, reason: String)

    public var path: String {
        switch self {
        case .unreadable(let path, _), .notDicom(let path, _), .truncated(let path, _), .noPixelData(let path),
            .unsupportedTransferSyntax(let path, _, _), .absurdDimensions(let path, _),
            .unsupportedPixelFormat(let path, _), .invalidAttribute(let path, _), .decodeFailed(let path, _):
            return path
        }
    }

    /// A short stable name for the kind of problem (for JSON reports and counting).
    public var kind: String {
        switch self {
        case .unreadable: "unreadable"
        case .notDicom: "not_dicom"
        case .truncated: "truncated"
        case .noPixelData: "no_pixel_data"
        case .unsupportedTransferSyntax: "unsupported_transfer_syntax"
        case .absurdDimensions: "absurd_dimensions"
        case .unsupportedPixelFormat: "unsupported_pixel_format"
        case .invalidAttribute: "invalid_attribute"
        case .decodeFailed: "decode_failed"
        }
    }

    public var description: String {
        switch self {
        case .unreadable(let path, let reason): "\(path): \(reason)"
        case .notDicom(let path, let reason): "\(path): \(reason)"
        case .truncated(let path, let reason): "\(path): \(reason)"
        case .noPixelData(let path): "\(path): DICOM without pixel data"
        case .unsupportedTransferSyntax(let path, let name, let uid):
            "\(path): unsupported transfer syntax \(name) (\(uid))"
        case .absurdDimensions(let path, let reason): "\(path): \(reason)"
        case .unsupportedPixelFormat(let path, let reason): "\(path): unsupported pixel format: \(reason)"
        case .invalidAttribute(let path, let reason): "\(path): invalid attribute: \(reason)"
        case .decodeFailed(let path, let reason): "\(path): \(reason)"
        }
    }

    init(path: String, _ error: mgmt_dicom_error, header: mgmt_dicom_header? = nil) {
        let message = withUnsafeBytes(of: error.message) { String(decoding: $0.prefix { $0 != 0 }, as: UTF8.self) }
        switch error.status {
        case MGMT_DICOM_UNREADABLE: self = .unreadable(path: path, reason: message)
        case MGMT_DICOM_NOT_DICOM: self = .notDicom(path: path, reason: message)
        case MGMT_DICOM_TRUNCATED: self = .truncated(path: path, reason: message)
        case MGMT_DICOM_NO_PIXEL_DATA: self = .noPixelData(path: path)
        case MGMT_DICOM_UNSUPPORTED_TRANSFER_SYNTAX:
            self = .unsupportedTransferSyntax(
                path: path, name: header.map { cString($0.transfer_syntax_name) } ?? message,
                uid: header.map { cString($0.transfer_syntax_uid) } ?? "")
        case MGMT_DICOM_ABSURD_DIMENSIONS: self = .absurdDimensions(path: path, reason: message)
        case MGMT_DICOM_UNSUPPORTED_PIXEL_FORMAT: self = .unsupportedPixelFormat(path: path, reason: message)
        case MGMT_DICOM_INVALID_ATTRIBUTE: self = .invalidAttribute(path: path, reason: message)
        default: self = .decodeFailed(path: path, reason: message)
        }
    }
}

/// The header fields the pipeline uses.
public struct DicomHeader: Sendable, Equatable {
    public let rows: Int
    public let columns: Int
    public let numberOfFrames: Int
    public let bitsAllocated: Int
    public let bitsStored: Int
    public let pixelRepresentation: Int
    public let samplesPerPixel: Int
    public let photometricInterpretation: String
    public let rescaleSlope: Double
    public let rescaleIntercept: Double
    public let instanceNumber: Int?
    /// x, y, z of the first transmitted pixel's centre, in mm.
    public let imagePositionPatient: [Double]?
    /// Row direction cosines then column direction cosines.
    public let imageOrientationPatient: [Double]?
    /// Row spacing then column spacing, in mm.
    public let pixelSpacing: [Double]?
    public let sliceThickness: Double?
    public let hasPixelData: Bool
    public let seriesInstanceUid: String
    public let studyInstanceUid: String
    public let sopInstanceUid: String
    public let patientId: String
    public let seriesDescription: String
    public let modality: String
    public let transferSyntax: TransferSyntax
    public let sopClassUid: String
    /// Empty when the source has none.
    public let frameOfReferenceUid: String
    /// The patient and study attributes a derived object copies. They identify the patient: never log them.
    public let study: StudyAttributes

    init(_ h: mgmt_dicom_header) {
        rows = Int(h.rows)
        columns = Int(h.columns)
        numberOfFrames = Int(h.number_of_frames)
        bitsAllocated = Int(h.bits_allocated)
        bitsStored = Int(h.bits_stored)
        pixelRepresentation = Int(h.pixel_representation)
        samplesPerPixel = Int(h.samples_per_pixel)
        photometricInterpretation = cString(h.photometric_interpretation)
        rescaleSlope = h.rescale_slope
        rescaleIntercept = h.rescale_intercept
        instanceNumber = h.has_instance_number != 0 ? Int(h.instance_number) : nil
        imagePositionPatient = h.has_image_position_patient != 0 ? doubles(h.image_position_patient) : nil
        imageOrientationPatient = h.has_image_orientation_patient != 0 ? doubles(h.image_orientation_patient) : nil
        pixelSpacing = h.has_pixel_spacing != 0 ? doubles(h.pixel_spacing) : nil
        sliceThickness = h.has_slice_thickness != 0 ? h.slice_thickness : nil
        hasPixelData = h.has_pixel_data != 0
        seriesInstanceUid = cString(h.series_instance_uid)
        studyInstanceUid = cString(h.study_instance_uid)
        sopInstanceUid = cString(h.sop_instance_uid)
        patientId = cString(h.patient_id)
        seriesDescription = cString(h.series_description)
        modality = cString(h.modality)
        transferSyntax = TransferSyntax(uid: cString(h.transfer_syntax_uid), name: cString(h.transfer_syntax_name))
        sopClassUid = cString(h.sop_class_uid)
        frameOfReferenceUid = cString(h.frame_of_reference_uid)
        study = StudyAttributes(
            patientName: cString(h.patient_name), patientId: patientId, patientBirthDate: cString(h.patient_birth_date),
            patientSex: cString(h.patient_sex), studyInstanceUid: studyInstanceUid, studyDate: cString(h.study_date),
            studyTime: cString(h.study_time), studyId: cString(h.study_id), accessionNumber: cString(h.accession_number),
            referringPhysicianName: cString(h.referring_physician_name))
    }
}

/// A loaded DICOM file. Loading reads the whole file; decoding happens on `rescaledPixels()`/`storedValues()`.
/// One instance must not be used from two threads at once; separate instances decode in parallel safely.
public final class DicomFile {
    public static let maximumDimension = Int(MGMT_DICOM_MAX_DIMENSION)

    public let path: String
    public let header: DicomHeader
    let handle: OpaquePointer

    /// Loads `path`. Throws `DicomError` if it is unreadable, not DICOM or truncated.
    /// With `deferringPixelData`, the pixel data is read from the file only when decoded (a cheap header scan;
    /// a file cut short inside its pixel data then fails at decoding instead).
    public init(path: String, deferringPixelData: Bool = false) throws(DicomError) {
        var error = mgmt_dicom_error()
        guard let handle = mgmt_dicom_open(path, deferringPixelData ? 1 : 0, &error),
              let header = mgmt_dicom_get_header(handle)
        else {
            throw DicomError(path: path, error)
        }
        self.path = path
        self.handle = handle
        self.header = DicomHeader(header.pointee)
    }

    deinit { mgmt_dicom_close(handle) }

    /// Whether the file at `path` is DICOM (a DICM preamble or a parseable dataset), whatever its name.
    public static func isDicom(path: String) -> Bool {
        (try? DicomFile(path: path)) != nil
    }

    /// Throws the error decoding would give for reasons visible in the header alone (no pixel data, absurd size,
    /// colour or an inconsistent pixel description, non-finite or implausible rescale and geometry values, an
    /// unknown transfer syntax or one without a decoder such as JPEG 2000), without decoding anything.
    public func checkDecodable() throws(DicomError) {
        var error = mgmt_dicom_error()
        guard mgmt_dicom_check_decodable(handle, &error) == MGMT_DICOM_OK else {
            throw DicomError(path: path, error, header: mgmt_dicom_get_header(handle)?.pointee)
        }
    }

    /// Values per frame: rows × columns.
    public var frameValueCount: Int { header.rows * header.columns }

    /// Stored values (masked to BitsStored, sign-extended), all frames one after another, row-major:
    /// pydicom's `pixel_array`, flattened.
    public func storedValues() throws(DicomError) -> [Int32] {
        try read { mgmt_dicom_read_stored(handle, $0.baseAddress, $0.count, &$1) }
    }

    /// Stored values × RescaleSlope + RescaleIntercept, all frames one after another, row-major.
    public func rescaledPixels() throws(DicomError) -> [Float] {
        try read { mgmt_dicom_read_rescaled(handle, $0.baseAddress, $0.count, &$1) }
    }

    /// `rescaledPixels()` written into the first `valueCount` elements of `buffer` (e.g. a file's slot in a
    /// series' buffer), without allocating.
    public func readRescaledPixels(into buffer: UnsafeMutableBufferPointer<Float>) throws(DicomError) {
        var error = mgmt_dicom_error()
        guard mgmt_dicom_read_rescaled(handle, buffer.baseAddress, buffer.count, &error) == MGMT_DICOM_OK else {
            throw DicomError(path: path, error, header: mgmt_dicom_get_header(handle)?.pointee)
        }
    }

    /// Values in all frames: rows × columns × frames.
    public var valueCount: Int { frameValueCount * header.numberOfFrames }

    /// `rescaledPixels()` split into frames (a multi-frame file gives one array per frame).
    public func rescaledFrames() throws(DicomError) -> [[Float]] {
        let all = try rescaledPixels()
        let size = frameValueCount
        return (0..<header.numberOfFrames).map { Array(all[($0 * size)..<(($0 + 1) * size)]) }
    }

    private func read<T: Numeric>(
        _ decode: (UnsafeMutableBufferPointer<T>, inout mgmt_dicom_error) -> mgmt_dicom_status
    ) throws(DicomError) -> [T] {
        var error = mgmt_dicom_error()
        let count = mgmt_dicom_value_count(handle)
        var status = MGMT_DICOM_OK
        let values = [T](unsafeUninitializedCapacity: count) { buffer, initialized in
            status = decode(buffer, &error)
            // On failure the buffer may be partly written; zero it so the array is always initialised.
            if status != MGMT_DICOM_OK { buffer.initialize(repeating: 0) }
            initialized = count
        }
        guard status == MGMT_DICOM_OK else {
            throw DicomError(path: path, error, header: mgmt_dicom_get_header(handle)?.pointee)
        }
        return values
    }
}

private func cString<T>(_ tuple: T) -> String {
    withUnsafeBytes(of: tuple) { String(decoding: $0.prefix { $0 != 0 }, as: UTF8.self) }
}

private func doubles<T>(_ tuple: T) -> [Double] {
    withUnsafeBytes(of: tuple) { Array($0.bindMemory(to: Double.self)) }
}
