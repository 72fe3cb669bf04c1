import Foundation

/// Size limits of every message field, checked on the raw JSON before it is decoded, so that an oversized value
/// never reaches a log line, a file name or a table. A text field not named here gets `defaultText`.
enum MessageLimits {
    /// Bytes (UTF-8) per text field, by JSON key; items of an array count under the array's key.
    static let text: [String: Int] = [
        "study_path": 4096, "source": 4096,  // PATH_MAX
        "job_id": 128, "stage": 64, "kind": 64, "status": 64, "mri_type": 64,
        "patient_id": 64, "study_instance_uid": 64, "series_instance_uid": 64,  // DICOM LO and UI
        "sop_instance_uid": 64, "source_series_instance_uid": 64, "classifier_weights_sha256": 64,
        "sha256": 64, "weights_sha256": 64, "segmentation_weights_sha256": 64,
        "key": 1024, "enqueued_at": 64, "occurred_at": 64,
        // A failed job's reason may list many per-file issues; the failures table bounds what it stores.
        "error": 65536, "no_chunks_reason": 4096, "warnings": 4096,
    ]
    static let defaultText = 4096
    /// Object keys are field names or input names (file names in a workspace: NAME_MAX).
    static let key = 255
    /// Elements per array (chunks, series, warnings).
    static let arrayCount = 100_000

    /// Throws the first field over its limit; a body that is not JSON is left to the decoder to describe.
    static func check(_ body: Data) throws(MessageError) {
        guard let root = try? JSONSerialization.jsonObject(with: body) else { return }
        try check(root, key: "", path: "")
    }

    private static func check(_ value: Any, key: String, path: String) throws(MessageError) {
        switch value {
        case let text as String:
            let limit = Self.text[key] ?? defaultText
            if text.utf8.count > limit {
                throw .invalidField(path, "\(text.utf8.count) bytes, the limit is \(limit)")
            }
        case let array as [Any]:
            if array.count > arrayCount {
                throw .invalidField(path, "\(array.count) elements, the limit is \(arrayCount)")
            }
            for (index, element) in array.enumerated() { try check(element, key: key, path: "\(path)[\(index)]") }
        case let object as [String: Any]:
            for (name, element) in object.sorted(by: { $0.key < $1.key }) {
                let inner = path.isEmpty ? name : "\(path).\(name)"
                if name.utf8.count > Self.key {
                    throw .invalidField(path.isEmpty ? "(field name)" : path,
                                        "a name of \(name.utf8.count) bytes, the limit is \(Self.key)")
                }
                try check(element, key: name, path: inner)
            }
        default:
            return  // numbers, booleans, null
        }
    }
}
