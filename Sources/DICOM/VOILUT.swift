// The VOI LUT step as pydicom's `apply_voi_lut(pixel_array, ds)` applies it to stored values (the 3D baseline's
// input): the VOI LUT Sequence when present (preferred), else WindowCenter/WindowWidth windowing, else identity.
import CDicom
import Foundation

/// What `apply_voi_lut` does to one file's stored values, read from its header.
public enum VOITransform: Sendable, Equatable {
    /// No VOI LUT and no window: the stored values as they are.
    case identity
    /// VOI LUT Sequence item 1: stored value − `firstMapped` indexes `data` (entries below get entry 0, beyond the
    /// end the last). The index is held in the LUT's own integer width (8 or 16 bits), as pydicom does.
    case lookupTable(firstMapped: Int, entries: Int, bits: Int, data: [UInt16])
    /// WindowCenter/WindowWidth with VOILUTFunction, mapping onto [`outputMinimum`, `outputMaximum`] (the stored
    /// range from BitsStored and PixelRepresentation, or the modality LUT's, then rescaled when both rescale
    /// attributes are present): pydicom's `apply_windowing`, in double precision.
    case window(center: Double, width: Double, function: WindowFunction, outputMinimum: Double, outputMaximum: Double)

    public enum WindowFunction: String, Sendable {
        case linear = "LINEAR"
        case linearExact = "LINEAR_EXACT"
        case sigmoid = "SIGMOID"
    }

    /// Stored values through the transform, as float32 (the baseline's `.astype(np.float32)`); `output` holds at
    /// least `stored.count` values.
    public func apply(_ stored: UnsafeBufferPointer<Int32>, into output: UnsafeMutableBufferPointer<Float>) {
        switch self {
        case .identity:
            for i in stored.indices { output[i] = Float(stored[i]) }
        case .lookupTable(let firstMapped, let entries, let bits, let data):
            // numpy writes the offset into a uint8/uint16 array: it wraps at the LUT's width, then is clipped.
            let width = bits == 8 ? 0xFF : 0xFFFF
            data.withUnsafeBufferPointer { table in
                for i in stored.indices {
                    let offset = Int(stored[i]) - firstMapped
                    let index = offset < 0 ? 0 : min(offset & width, entries - 1)
                    output[i] = Float(Int(table[index]) & width)
                }
            }
        case .window(let center, let width, .sigmoid, let low, let high):
            for i in stored.indices {
                output[i] = Float((high - low) / (1 + exp(-4 * (Double(stored[i]) - center) / width)) + low)
            }
        case .window(let center, let width, let function, let low, let high):
            // pydicom shifts the LINEAR window by half a value (PS3.3 C.11.2.1.2.1) before the comparisons.
            let (c, w) = function == .linear ? (center - 0.5, width - 1) : (center, width)
            for i in stored.indices {
                let x = Double(stored[i])
                output[i] = x <= c - w / 2 ? Float(low)
                    : x > c + w / 2 ? Float(high) : Float(((x - c) / w + 0.5) * (high - low) + low)
            }
        }
    }
}

extension DicomFile {
    /// The file's VOI transform. Throws `invalidAttribute` where pydicom raises (a window width below 1 for LINEAR
    /// or ≤ 0 otherwise, an unknown VOILUTFunction, LUT entries of a bit depth other than 8 or 10–16, LUTData
    /// shorter than its descriptor says).
    public func voiTransform() throws(DicomError) -> VOITransform {
        var voi = mgmt_dicom_voi()
        var error = mgmt_dicom_error()
        guard mgmt_dicom_get_voi(handle, &voi, nil, 0, &error) == MGMT_DICOM_OK else {
            throw DicomError(path: path, error)
        }
        if voi.has_voi_lut != 0 {
            let entries = voi.lut_entries == 0 ? 65536 : Int(voi.lut_entries)
            let bits = Int(voi.lut_bits)
            guard bits == 8 || (10...16).contains(bits) else {
                throw .invalidAttribute(path: path, reason: "VOI LUT with \(bits) bits per entry (8 or 10-16 supported)")
            }
            guard entries > 0, voi.lut_data_count >= entries else {
                throw .invalidAttribute(path: path, reason: "VOI LUT data holds \(voi.lut_data_count) of \(entries) entries")
            }
            var data = [UInt16](repeating: 0, count: Int(voi.lut_data_count))
            let status = data.withUnsafeMutableBufferPointer {
                mgmt_dicom_get_voi(handle, &voi, $0.baseAddress, $0.count, &error)
            }
            guard status == MGMT_DICOM_OK else { throw DicomError(path: path, error) }
            return .lookupTable(firstMapped: Int(voi.lut_first_mapped), entries: entries, bits: bits,
                                data: Array(data.prefix(entries)))
        }
        guard voi.has_window != 0 else { return .identity }
        let name = withUnsafeBytes(of: voi.voi_lut_function) { String(decoding: $0.prefix { $0 != 0 }, as: UTF8.self) }
        guard let function = VOITransform.WindowFunction(rawValue: name.isEmpty ? "LINEAR" : name.uppercased()) else {
            throw .invalidAttribute(path: path, reason: "VOILUTFunction (0028,1056) '\(name)' is not supported")
        }
        let (center, width) = (voi.window_center, voi.window_width)
        guard center.isFinite, width.isFinite, function == .linear ? width >= 1 : width > 0 else {
            throw .invalidAttribute(path: path, reason: "WindowWidth (0028,1051) \(width) with WindowCenter \(center) "
                                    + "cannot window (\(function.rawValue))")
        }
        var low: Double, high: Double
        let bitsStored = Double(header.bitsStored)
        if voi.has_modality_lut != 0 {
            (low, high) = (0, pow(2, Double(voi.modality_lut_bits)) - 1)
        } else if header.pixelRepresentation == 0 {
            (low, high) = (0, pow(2, bitsStored) - 1)
        } else {
            (low, high) = (-pow(2, bitsStored - 1), pow(2, bitsStored - 1) - 1)
        }
        if voi.has_rescale != 0 {
            (low, high) = (low * voi.rescale_slope + voi.rescale_intercept, high * voi.rescale_slope + voi.rescale_intercept)
        }
        return .window(center: center, width: width, function: function, outputMinimum: low, outputMaximum: high)
    }

    /// `apply_voi_lut(pixel_array, ds).astype(float32)` of every frame, into the first `valueCount` elements of
    /// `buffer`. Decodes the pixel data only once per file, whichever of the read methods comes first.
    public func readVOIPixels(into buffer: UnsafeMutableBufferPointer<Float>) throws(DicomError) {
        let transform = try voiTransform()
        let stored = try storedValues()
        guard buffer.count >= stored.count else {
            throw .decodeFailed(path: path, reason: "buffer of \(buffer.count) values, \(stored.count) needed")
        }
        stored.withUnsafeBufferPointer { transform.apply($0, into: buffer) }
    }
}
