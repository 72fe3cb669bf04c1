import DICOM
import Foundation
import Logging

/// Settings of the ingest stage (DESIGN.md §1); the defaults reproduce T4E.
public struct IngestOptions: Sendable {
    public var seriesDescriptionRules = SeriesDescriptionRules.standard
    /// A slice is kept when more than this fraction of its pixels are > 0.
    public var nonEmptyFraction = 0.1
    /// Projection-crop threshold (Borovec's 1e-6).
    public var cropThreshold = 1e-6
    /// Also apply the projection crop to rows and columns (changes the field of view T4E's weights saw).
    public var cropInPlane = false
    /// Files decoded at once.
    public var decodeThreads = ProcessInfo.processInfo.activeProcessorCount

    public init() {}
}

/// A study that cannot be ingested at all (as opposed to per-file and per-series problems, which are recorded).
public enum IngestError: Error, Equatable, Sendable, CustomStringConvertible {
    case notADirectory(String)

    public var description: String {
        switch self {
        case .notADirectory(let path): "\(path): not a readable study folder"
        }
    }
}

/// The ingest stage: a scanner export folder in, ordered and normalised series out.
public struct StudyIngestor: Sendable {
    public var options: IngestOptions
    private let logger: Logger

    public init(options: IngestOptions = IngestOptions(), logger: Logger = Logger(label: "mgmt.ingest")) {
        self.options = options
        self.logger = logger
    }

    public func ingest(study: URL) throws(IngestError) -> IngestedStudy {
        var isDirectory: ObjCBool = false
        guard FileManager.default.fileExists(atPath: study.path, isDirectory: &isDirectory), isDirectory.boolValue
        else { throw .notADirectory(study.path) }
        var errors = [IngestIssue]()
        var warnings = [IngestIssue]()
        let files = listFiles(in: study, errors: &errors)
        if files.isEmpty {
            errors.append(IngestIssue(kind: "empty_study", message: "no files in the study folder"))
        }
        let decoded = parallelMap(files.count, threads: options.decodeThreads) { decode(files[$0], study: study) }

        var groups = [GroupKey: [DecodedFile]]()
        for result in decoded {
            switch result {
            case .success(let file): groups[GroupKey(folder: file.folder, seriesUID: file.header.seriesInstanceUID), default: []].append(file)
            case .failure(let issue): errors.append(issue)
            }
        }
        let assignments = assignTypes(groups, warnings: &warnings, errors: &errors)
        let identity = studyIdentity(groups.values.flatMap { $0 }, study: study, warnings: &warnings)

        var entries = [StudyMetadata.SeriesEntry]()
        var outputs = [IngestedSeries]()
        var usedNames = Set<String>()
        for (key, assignment) in assignments.sorted(by: { seriesOrder($0, $1) }) {
            guard let files = groups.removeValue(forKey: key) else { continue }
            let seriesErrors = errors.filter { $0.seriesInstanceUID == key.seriesUID && $0.path.map(folder(of:)) == key.folder }
            switch buildSeries(files, key: key, type: assignment, identity: identity, fileErrors: seriesErrors) {
            case .success(let series):
                if series.metadata.orderCheck.status != .consistent {
                    warnings.append(IngestIssue(
                        kind: "order_check_\(series.metadata.orderCheck.status.rawValue)",
                        message: "\(key.folder.isEmpty ? "." : key.folder): "
                            + (series.metadata.orderCheck.detail ?? series.metadata.orderCheck.status.rawValue),
                        seriesInstanceUID: key.seriesUID))
                }
                var name = series.metadata.mriType.rawValue
                var suffix = 2
                while usedNames.contains(name) {
                    name = "\(series.metadata.mriType.rawValue)-\(suffix)"
                    suffix += 1
                }
                usedNames.insert(name)
                entries.append(StudyMetadata.SeriesEntry(dir: name, mriType: series.metadata.mriType,
                                                         seriesInstanceUID: key.seriesUID, slices: series.metadata.slices))
                outputs.append(series)
                logger.info("series ingested", metadata: [
                    "series_instance_uid": "\(key.seriesUID)", "mri_type": "\(name)",
                    "slices_total": "\(series.metadata.slicesTotal)", "slices_kept": "\(series.metadata.slices)",
                    "order_check": "\(series.metadata.orderCheck.status.rawValue)",
                ])
            case .failure(let issue):
                errors.append(issue)
                logger.warning("series rejected", metadata: ["series_instance_uid": "\(key.seriesUID)", "kind": "\(issue.kind)"])
            }
        }
        if outputs.isEmpty && !files.isEmpty {
            errors.append(IngestIssue(kind: "no_series", message: "no recognisable series in the study"))
        }
        let metadata = StudyMetadata(patientID: identity.patientID, studyInstanceUID: identity.studyUID,
                                     series: entries, errors: errors, warnings: warnings)
        return IngestedStudy(metadata: metadata, series: outputs)
    }

    // MARK: Discovery and decoding

    /// Every regular file under the study folder (hidden files skipped), by content later, never by extension.
    private func listFiles(in study: URL, errors: inout [IngestIssue]) -> [String] {
        var unreadable = [String]()
        let enumerator = FileManager.default.enumerator(
            at: study, includingPropertiesForKeys: [.isDirectoryKey], options: [.skipsHiddenFiles],
            errorHandler: { url, _ in unreadable.append(url.path); return true })
        var files = [String]()
        while let url = enumerator?.nextObject() as? URL {
            let isDirectory = (try? url.resourceValues(forKeys: [.isDirectoryKey]).isDirectory) ?? false
            if !isDirectory { files.append(url.path) }
        }
        for path in unreadable {
            errors.append(IngestIssue(kind: "unreadable", message: "cannot list \(relative(path, to: study))",
                                      path: relative(path, to: study)))
        }
        return files.sorted()
    }

    private func decode(_ path: String, study: URL) -> Result<DecodedFile, IngestIssue> {
        let name = relative(path, to: study)
        do throws(DicomError) {
            let file = try DicomFile(path: path)
            do throws(DicomError) {
                let frames = try file.rescaledFrames()
                return .success(DecodedFile(path: name, folder: folder(of: name), header: file.header, frames: frames))
            } catch {
                return .failure(issue(error, name: name, series: file.header.seriesInstanceUID))
            }
        } catch {
            return .failure(issue(error, name: name, series: nil))
        }
    }

    private func issue(_ error: DicomError, name: String, series: String?) -> IngestIssue {
        // The message names the file relative to the study, not by absolute path.
        let message = error.description.hasPrefix(error.path + ": ")
            ? name + String(error.description.dropFirst(error.path.count)) : error.description
        return IngestIssue(kind: error.kind, message: message, path: name, seriesInstanceUID: series)
    }

    // MARK: Series

    private enum TypeAssignment {
        case type(MRIType, source: String)
        case unknown(String)
    }

    /// The largest series of a folder named after an MRI type takes that type; every other series gets its type
    /// from SeriesDescription. Returns groups in a stable order (folder, then UID).
    private func assignTypes(_ groups: [GroupKey: [DecodedFile]], warnings: inout [IngestIssue],
                             errors: inout [IngestIssue]) -> [(GroupKey, TypeAssignment)] {
        var result = [(GroupKey, TypeAssignment)]()
        let byFolder = Dictionary(grouping: groups.keys, by: \.folder)
        for folder in byFolder.keys.sorted() {
            let keys = (byFolder[folder] ?? []).sorted {
                (groups[$0]?.count ?? 0, $1.seriesUID) > (groups[$1]?.count ?? 0, $0.seriesUID)
            }
            let folderType = MRIType(folderName: URL(fileURLWithPath: folder).lastPathComponent)
            if keys.count > 1 {
                let summary = keys.map { "\($0.seriesUID) (\(groups[$0]?.count ?? 0) files, '\(description(groups[$0]))')" }
                warnings.append(IngestIssue(
                    kind: "mixed_series_in_folder",
                    message: "folder \(folder.isEmpty ? "." : folder) holds \(keys.count) series, separated: "
                        + summary.joined(separator: ", ")))
            }
            for (index, key) in keys.enumerated() {
                if index == 0, let folderType {
                    result.append((key, .type(folderType, source: "folder")))
                } else if let type = options.seriesDescriptionRules.mriType(seriesDescription: description(groups[key])) {
                    result.append((key, .type(type, source: "series_description")))
                } else {
                    let folderNote = folderType.map { "folder \(folder) is the larger series' (\($0.rawValue))" }
                        ?? "the folder name is not an MRI type"
                    result.append((key, .unknown("\(folderNote), and SeriesDescription '\(description(groups[key]))' "
                                                 + "matches no pattern")))
                }
            }
        }
        return result
    }

    /// Series with a type first, by type (FLAIR, T1w, T1wCE, T2w), then folder and UID: stable directory names.
    private func seriesOrder(_ a: (GroupKey, TypeAssignment), _ b: (GroupKey, TypeAssignment)) -> Bool {
        func rank(_ assignment: TypeAssignment) -> Int {
            guard case .type(let type, _) = assignment else { return MRIType.allCases.count }
            return MRIType.allCases.firstIndex(of: type) ?? 0
        }
        return (rank(a.1), a.0.folder, a.0.seriesUID) < (rank(b.1), b.0.folder, b.0.seriesUID)
    }

    private func description(_ files: [DecodedFile]?) -> String { files?.first?.header.seriesDescription ?? "" }

    private func buildSeries(_ files: [DecodedFile], key: GroupKey, type: TypeAssignment, identity: StudyIdentity,
                             fileErrors: [IngestIssue]) -> Result<IngestedSeries, IngestIssue> {
        let place = key.folder.isEmpty ? "." : key.folder
        func rejected(_ kind: String, _ message: String) -> Result<IngestedSeries, IngestIssue> {
            .failure(IngestIssue(kind: kind, message: "\(place): series \(key.seriesUID): \(message)",
                                 seriesInstanceUID: key.seriesUID))
        }
        guard case .type(let mriType, let typeSource) = type else {
            guard case .unknown(let reason) = type else { return rejected("no_mri_type", "no MRI type") }
            return rejected("no_mri_type", "no MRI type: \(reason)")
        }
        let sizes = Dictionary(grouping: files) { [$0.header.rows, $0.header.columns] }
        guard sizes.count == 1, let size = sizes.keys.first else {
            let counts = sizes.sorted { ($0.value.count, $1.key[0]) > ($1.value.count, $0.key[0]) }
                .map { "\($0.value.count) × \($0.key[0])x\($0.key[1])" }
            return rejected("mixed_sizes", "slices differ in size: " + counts.joined(separator: ", "))
        }
        let (rows, columns) = (size[0], size[1])

        var placements = [SlicePlacement]()
        var pixels = [[Float]]()
        var positions = [[Double]?]()
        for file in files {
            for (frame, values) in file.frames.enumerated() {
                placements.append(SlicePlacement(
                    instanceNumber: file.header.instanceNumber, frame: frame, isMultiFrame: file.frames.count > 1,
                    position: file.header.imagePositionPatient, orientation: file.header.imageOrientationPatient))
                pixels.append(values)
                positions.append(file.header.imagePositionPatient)
            }
        }
        let order: [Int], check: OrderCheck
        do throws(SliceOrderingError) {
            (order, check) = try orderSlices(placements)
        } catch {
            return rejected("unordered", error.description)
        }
        let kept = order.filter { isNonEmptySlice(pixels[$0], minimumFraction: options.nonEmptyFraction) }
        let keptPixels = kept.map { pixels[$0] }
        guard let range = IntensityRange(of: keptPixels) else {
            return rejected("all_slices_empty", "all \(order.count) slices are empty (≤ \(Int(options.nonEmptyFraction * 100)) % of pixels > 0)")
        }
        let normalised = normalisedVolume(slices: keptPixels, rows: rows, columns: columns, range: range)
        var crop = ProjectionCrop(of: normalised, threshold: options.cropThreshold)
        crop.applied = options.cropInPlane ? ["slices", "rows", "columns"] : ["slices"]
        let image = normalised.cropped(
            slices: crop.slices.range,
            rows: options.cropInPlane ? crop.rows.range : 0..<rows,
            columns: options.cropInPlane ? crop.columns.range : 0..<columns)
        let stored = crop.slices.range.map { kept[$0] }
        let first = files[0].header
        let syntaxes = Set(files.map(\.header.transferSyntax)).sorted { $0.uid < $1.uid }
        let metadata = SeriesMetadata(
            patientID: identity.patientID, studyInstanceUID: identity.studyUID, seriesInstanceUID: key.seriesUID,
            seriesDescription: first.seriesDescription, mriType: mriType, mriTypeSource: typeSource,
            sourceFolder: key.folder, slices: image.slices, rows: image.rows, columns: image.columns,
            slicesTotal: order.count, slicesNonempty: kept.count,
            instanceNumbers: stored.map { placements[$0].instanceNumber }, transferSyntaxes: syntaxes,
            orderCheck: check, intensity: range, crop: crop,
            geometry: SeriesGeometry(imageOrientationPatient: first.imageOrientationPatient,
                                     pixelSpacing: first.pixelSpacing, sliceThickness: first.sliceThickness,
                                     imagePositionPatient: stored.map { positions[$0] }),
            errors: fileErrors)
        return .success(IngestedSeries(metadata: metadata, image: image, imageUInt8: truncatedToUInt8(image)))
    }

    // MARK: Study identity

    private struct StudyIdentity {
        var patientID: String
        var studyUID: String
    }

    /// The most common PatientID and StudyInstanceUID among the files (the folder name when PatientID is empty);
    /// a study folder mixing patients or studies gets a warning.
    private func studyIdentity(_ files: [DecodedFile], study: URL, warnings: inout [IngestIssue]) -> StudyIdentity {
        func mostCommon(_ values: [String], field: String) -> String {
            let counts = Dictionary(grouping: values.filter { !$0.isEmpty }, by: { $0 }).mapValues(\.count)
            if counts.count > 1 {
                warnings.append(IngestIssue(kind: "mixed_\(field)", message: "files carry \(counts.count) different \(field) values"))
            }
            return counts.max { ($0.value, $1.key) < ($1.value, $0.key) }?.key ?? ""
        }
        let patient = mostCommon(files.map(\.header.patientID), field: "patient_id")
        let studyUID = mostCommon(files.map(\.header.studyInstanceUID), field: "study_instance_uid")
        return StudyIdentity(patientID: patient.isEmpty ? study.lastPathComponent : patient, studyUID: studyUID)
    }
}

private struct GroupKey: Hashable {
    var folder: String
    var seriesUID: String
}

private struct DecodedFile: Sendable {
    var path: String
    var folder: String
    var header: DicomHeader
    var frames: [[Float]]
}

private func relative(_ path: String, to study: URL) -> String {
    let root = study.standardizedFileURL.path
    let full = URL(fileURLWithPath: path).standardizedFileURL.path
    guard full.hasPrefix(root + "/") else { return full }
    return String(full.dropFirst(root.count + 1))
}

private func folder(of relativePath: String) -> String {
    guard let slash = relativePath.lastIndex(of: "/") else { return "" }
    return String(relativePath[..<slash])
}

/// `body(0..<count)` on `threads` threads; results in index order.
private func parallelMap<T: Sendable>(_ count: Int, threads: Int, _ body: @Sendable (Int) -> T) -> [T] {
    let slots = Slots<T>(count: count)
    let workers = max(1, min(threads, count))
    DispatchQueue.concurrentPerform(iterations: workers) { _ in
        while let index = slots.claim() { slots.store(body(index), at: index) }
    }
    return slots.results()
}

/// Result slots written by distinct indices from several threads; the lock only guards the work counter.
private final class Slots<T>: @unchecked Sendable {
    private var values: [T?]
    private let buffer: UnsafeMutableBufferPointer<T?>
    private var next = 0
    private let lock = NSLock()

    init(count: Int) {
        values = []
        buffer = .allocate(capacity: count)
        buffer.initialize(repeating: nil)
    }

    deinit {
        buffer.deinitialize()
        buffer.deallocate()
    }

    func claim() -> Int? {
        lock.lock()
        defer { lock.unlock() }
        guard next < buffer.count else { return nil }
        next += 1
        return next - 1
    }

    func store(_ value: T, at index: Int) { buffer[index] = value }

    func results() -> [T] { buffer.compactMap { $0 } }
}
