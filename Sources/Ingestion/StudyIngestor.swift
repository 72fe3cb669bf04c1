import DICOM
import Domain
import Foundation
import Logging
import SeriesFiles

/// Settings of the ingest stage (docs/ARCHITECTURE.md, "Ingest"); the defaults reproduce T4E.
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
    /// MRI types whose series also keep the raw volume for the 3D classifier (`volume.npy`): the types with
    /// `classifier3d-<type>.safetensors` in the model directory (`volumeTypes(modelsDirectory:)`).
    public var volumeTypes: Set<MRIType> = []

    /// The MRI types the 3D classifier has weights for in `modelsDirectory`.
    public static func volumeTypes(modelsDirectory: URL) -> Set<MRIType> {
        Set(MRIType.allCases.filter {
            FileManager.default.fileExists(
                atPath: modelsDirectory.appendingPathComponent(ClassifierModel.resnet3d.weightsFileName($0)).path)
        })
    }

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

    /// Ingests a study in memory (for inspection and tests). Throws `IngestError` if `study` is not a folder;
    /// every per-file and per-series problem is recorded in the result instead.
    public func ingest(study: URL) throws -> IngestedStudy {
        var series = [IngestedSeries]()
        let metadata = try ingest(study: study) { _, built in series.append(built) }
        return IngestedStudy(metadata: metadata, series: series)
    }

    /// Ingests a study into `output` (study.json plus one directory per series), writing each series as soon as
    /// it is built so that only one series' arrays are in memory at a time.
    @discardableResult
    public func ingest(study: URL, into output: URL) throws -> StudyMetadata {
        try FileManager.default.createDirectory(at: output, withIntermediateDirectories: true)
        let metadata = try ingest(study: study) { dir, series in
            try SeriesDirectory(output.appendingPathComponent(dir)).write(series)
        }
        try StudyDirectory(output).writeMetadata(metadata)
        return metadata
    }

    /// The stage: scans every file's header, groups and types the series, then decodes, orders and normalises one
    /// series at a time and hands it to `emit` with its directory name. Returns the study's metadata.
    public func ingest(study: URL, emit: (_ directory: String, _ series: IngestedSeries) throws -> Void) throws
        -> StudyMetadata
    {
        var isDirectory: ObjCBool = false
        guard FileManager.default.fileExists(atPath: study.path, isDirectory: &isDirectory), isDirectory.boolValue
        else { throw IngestError.notADirectory(study.path) }
        var errors = [IngestIssue]()
        var warnings = [IngestIssue]()
        let files = listFiles(in: study, errors: &errors, warnings: &warnings)
        if files.isEmpty {
            errors.append(IngestIssue(kind: "empty_study", message: "no files in the study folder"))
        }
        let scanned = parallelMap(files.count, threads: options.decodeThreads) { scan(files[$0], study: study) }

        var groups = [GroupKey: [ScannedFile]]()
        for result in scanned {
            switch result {
            case .success(let file):
                groups[GroupKey(folder: file.folder, seriesUID: file.header.seriesInstanceUid), default: []].append(file)
            case .failure(let issue): errors.append(issue)
            }
        }
        // Without a SeriesInstanceUID a series cannot be named downstream nor told apart from another one.
        for key in groups.keys.filter(\.seriesUID.isEmpty).sorted(by: { $0.folder < $1.folder }) {
            let count = groups.removeValue(forKey: key)?.count ?? 0
            errors.append(IngestIssue(
                kind: "missing_series_instance_uid",
                message: "\(key.folder.isEmpty ? "." : key.folder): \(count) file(s) without SeriesInstanceUID "
                    + "(0020,000E) left out", path: key.folder))
        }
        let assignments = assignTypes(groups, warnings: &warnings)
        let identity = studyIdentity(groups.values.flatMap { $0 }.sorted { $0.path < $1.path }.map(\.header), study: study,
                                     warnings: &warnings)

        var entries = [StudyMetadata.SeriesEntry]()
        var usedNames = Set<String>()
        for (key, assignment) in assignments.sorted(by: { seriesOrder($0, $1) }) {
            guard let members = groups.removeValue(forKey: key) else { continue }
            guard case .type(let mriType, let typeSource) = assignment else {
                if case .unknown(let reason) = assignment {
                    errors.append(seriesIssue(key, kind: "no_mri_type", "no MRI type: \(reason)"))
                }
                continue
            }
            let built = buildSeries(members, key: key, type: mriType, typeSource: typeSource, identity: identity)
            errors += built.fileErrors
            switch built.series {
            case .none: continue  // every file failed and already has its error
            case .success(let series):
                if series.metadata.orderCheck.status != .consistent {
                    warnings.append(seriesIssue(
                        key, kind: "order_check_\(series.metadata.orderCheck.status.rawValue)",
                        series.metadata.orderCheck.detail ?? series.metadata.orderCheck.status.rawValue))
                }
                var name = mriType.rawValue
                var suffix = 2
                while usedNames.contains(name) {
                    name = "\(mriType.rawValue)-\(suffix)"
                    suffix += 1
                }
                usedNames.insert(name)
                try emit(name, series)
                entries.append(StudyMetadata.SeriesEntry(dir: name, mriType: mriType, seriesInstanceUid: key.seriesUID,
                                                         slices: series.metadata.slices))
                logger.info("series ingested", metadata: [
                    "series_instance_uid": "\(key.seriesUID)", "dir": "\(name)",
                    "slices_total": "\(series.metadata.slicesTotal)", "slices_kept": "\(series.metadata.slices)",
                    "order_check": "\(series.metadata.orderCheck.status.rawValue)",
                ])
            case .failure(let issue):
                errors.append(issue)
                logger.warning("series rejected", metadata: ["series_instance_uid": "\(key.seriesUID)", "kind": "\(issue.kind)"])
            }
        }
        if entries.isEmpty && !files.isEmpty {
            errors.append(IngestIssue(kind: "no_series", message: "no recognisable series in the study"))
        }
        return StudyMetadata(patientId: identity.patientId, studyInstanceUid: identity.studyUID,
                             attributes: identity.attributes, series: entries, errors: errors, warnings: warnings)
    }

    private func seriesIssue(_ key: GroupKey, kind: String, _ message: String) -> IngestIssue {
        IngestIssue(kind: kind, message: "\(key.folder.isEmpty ? "." : key.folder): series \(key.seriesUID): \(message)",
                    seriesInstanceUid: key.seriesUID)
    }

    // MARK: Discovery and decoding

    /// Every regular file under the study folder (hidden files skipped), by content later, never by extension.
    /// An entry whose real path leaves the study folder (a symlink to another folder or file) is skipped with a
    /// warning and never opened.
    private func listFiles(in study: URL, errors: inout [IngestIssue], warnings: inout [IngestIssue]) -> [String] {
        guard let root = ConfinedPath.resolve(study.path) else {
            errors.append(IngestIssue(kind: "unreadable", message: "cannot resolve the study folder"))
            return []
        }
        var unreadable = [String]()
        let enumerator = FileManager.default.enumerator(
            at: study, includingPropertiesForKeys: [.isDirectoryKey], options: [.skipsHiddenFiles],
            errorHandler: { url, _ in unreadable.append(url.path); return true })
        var files = [String]()
        while let url = enumerator?.nextObject() as? URL {
            let name = relative(url.path, to: study)
            guard let real = ConfinedPath.resolve(url.path) else {
                errors.append(IngestIssue(kind: "unreadable", message: "\(name): does not resolve (a dangling link?)",
                                          path: name))
                continue
            }
            guard ConfinedPath.isInside(real, root: root) else {
                enumerator?.skipDescendants()
                warnings.append(IngestIssue(kind: "outside_study", message: "\(name) leads outside the study folder; skipped",
                                            path: name))
                continue
            }
            let isDirectory = (try? url.resourceValues(forKeys: [.isDirectoryKey]).isDirectory) ?? false
            if !isDirectory { files.append(url.path) }
        }
        for path in unreadable {
            errors.append(IngestIssue(kind: "unreadable", message: "cannot list \(relative(path, to: study))",
                                      path: relative(path, to: study)))
        }
        return files.sorted()
    }

    /// Header only: the pixel data stays on disk until the file's series is built. Files whose header already
    /// shows they cannot be decoded are rejected here, so they are reported whatever happens to their series.
    private func scan(_ path: String, study: URL) -> Result<ScannedFile, IngestIssue> {
        let name = relative(path, to: study)
        let file: DicomFile
        do throws(DicomError) {
            file = try DicomFile(path: path, deferringPixelData: true)
        } catch {
            return .failure(issue(error, name: name, series: nil))
        }
        do throws(DicomError) {
            try file.checkDecodable()
            return .success(ScannedFile(absolutePath: path, path: name, folder: folder(of: name), header: file.header))
        } catch {
            return .failure(issue(error, name: name, series: file.header.seriesInstanceUid))
        }
    }

    /// Decodes every file of a series into one buffer, each file at its own offset (no per-slice allocations).
    /// Files that fail keep zeros in their slot and are left out of `slices`. With `keepingVolume`, a second buffer
    /// gets the same slots through the file's VOI transform (the 3D classifier's values); a file whose VOI
    /// transform cannot be applied is left out of the volume only, with its issue in `volumeErrors`.
    private func decodeStack(_ files: [ScannedFile], sliceValueCount: Int, keepingVolume: Bool) -> DecodedStack {
        let frameOffsets = files.reduce(into: [0]) { $0.append($0[$0.count - 1] + $1.header.numberOfFrames) }
        let total = (frameOffsets.last ?? 0) * sliceValueCount
        var pixels = [Float](repeating: 0, count: total)
        var voiPixels = [Float](repeating: 0, count: keepingVolume ? total : 0)
        let results = pixels.withUnsafeMutableBufferPointer { buffer in
            voiPixels.withUnsafeMutableBufferPointer { voiBuffer in
                let (shared, sharedVOI) = (SharedBuffer(buffer), SharedBuffer(voiBuffer))
                return parallelMap(files.count, threads: options.decodeThreads) { index -> FileDecoding in
                    let file = files[index]
                    let (start, count) = (frameOffsets[index] * sliceValueCount, file.header.numberOfFrames * sliceValueCount)
                    let dicom: DicomFile
                    do throws(DicomError) {
                        dicom = try DicomFile(path: file.absolutePath)
                        try dicom.readRescaledPixels(into: shared.slice(from: start, count: count))
                    } catch {
                        return FileDecoding(error: issue(error, name: file.path, series: file.header.seriesInstanceUid))
                    }
                    guard keepingVolume else { return FileDecoding() }
                    do throws(DicomError) {
                        try dicom.readVOIPixels(into: sharedVOI.slice(from: start, count: count))
                        return FileDecoding()
                    } catch {
                        var volumeError = issue(error, name: file.path, series: file.header.seriesInstanceUid)
                        volumeError.message += " (left out of the 3D volume only)"
                        return FileDecoding(volumeError: volumeError)
                    }
                }
            }
        }
        var stack = DecodedStack(pixels: [], voiPixels: [], slices: [], fileErrors: results.compactMap(\.error),
                                 volumeErrors: results.compactMap(\.volumeError))
        for (index, file) in files.enumerated() where results[index].error == nil {
            for frame in 0..<file.header.numberOfFrames {
                stack.slices.append(DecodedSlice(file: index, frame: frame,
                                                 start: (frameOffsets[index] + frame) * sliceValueCount,
                                                 inVolume: keepingVolume && results[index].volumeError == nil))
            }
        }
        stack.pixels = pixels
        stack.voiPixels = voiPixels
        return stack
    }

    private func issue(_ error: DicomError, name: String, series: String?) -> IngestIssue {
        // The message names the file relative to the study, not by absolute path.
        let message = error.description.hasPrefix(error.path + ": ")
            ? name + String(error.description.dropFirst(error.path.count)) : error.description
        return IngestIssue(kind: error.kind, message: message, path: name, seriesInstanceUid: series)
    }

    // MARK: Series

    private enum TypeAssignment {
        case type(MRIType, source: String)
        case unknown(String)
    }

    /// The largest series of a folder named after an MRI type takes that type; every other series gets its type
    /// from SeriesDescription. Returns groups in a stable order (folder, then UID).
    private func assignTypes(_ groups: [GroupKey: [ScannedFile]], warnings: inout [IngestIssue])
        -> [(GroupKey, TypeAssignment)]
    {
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

    private func description(_ files: [ScannedFile]?) -> String { files?.first?.header.seriesDescription ?? "" }

    private func buildSeries(_ files: [ScannedFile], key: GroupKey, type mriType: MRIType, typeSource: String,
                             identity: StudyIdentity) -> (series: Result<IngestedSeries, IngestIssue>?, fileErrors: [IngestIssue]) {
        func rejected(_ kind: String, _ message: String, _ fileErrors: [IngestIssue] = [])
            -> (Result<IngestedSeries, IngestIssue>?, [IngestIssue])
        {
            (.failure(seriesIssue(key, kind: kind, message)), fileErrors)
        }
        // Sizes must agree before anything is decoded.
        let sizes = Dictionary(grouping: files) { [$0.header.rows, $0.header.columns] }
        guard sizes.count == 1, let size = sizes.keys.first else {
            let counts = sizes.sorted { ($0.value.count, $1.key[0]) > ($1.value.count, $0.key[0]) }
                .map { "\($0.value.count) × \($0.key[0])x\($0.key[1])" }
            return rejected("mixed_sizes", "slices differ in size: " + counts.joined(separator: ", "))
        }
        let (rows, columns) = (size[0], size[1])
        let keepingVolume = options.volumeTypes.contains(mriType)
        let stack = decodeStack(files, sliceValueCount: rows * columns, keepingVolume: keepingVolume)
        guard !stack.slices.isEmpty else { return (nil, stack.fileErrors) }
        let placements = stack.slices.map { slice in
            let header = files[slice.file].header
            return SlicePlacement(instanceNumber: header.instanceNumber, frame: slice.frame,
                                  isMultiFrame: header.numberOfFrames > 1, position: header.imagePositionPatient,
                                  orientation: header.imageOrientationPatient)
        }
        let pixels = stack.slices.map { stack.pixels[$0.start..<($0.start + rows * columns)] }
        let order: [Int], check: OrderCheck
        do throws(SliceOrderingError) {
            (order, check) = try orderSlices(placements)
        } catch {
            return rejected("unordered", error.description, stack.fileErrors)
        }
        let kept = order.filter { isNonEmptySlice(pixels[$0], minimumFraction: options.nonEmptyFraction) }
        let keptPixels = kept.map { pixels[$0] }
        guard let range = IntensityRange(of: keptPixels) else {
            return rejected("all_slices_empty", "all \(order.count) slices are empty "
                            + "(≤ \(Int(options.nonEmptyFraction * 100)) % of pixels > 0)", stack.fileErrors)
        }
        let normalised = normalisedVolume(slices: keptPixels, rows: rows, columns: columns, range: range)
        var crop = ProjectionCrop(of: normalised, threshold: options.cropThreshold)
        crop.applied = options.cropInPlane ? ["slices", "rows", "columns"] : ["slices"]
        let image = normalised.cropped(
            slices: crop.slices.range,
            rows: options.cropInPlane ? crop.rows.range : 0..<rows,
            columns: options.cropInPlane ? crop.columns.range : 0..<columns)
        let stored = crop.slices.range.map { kept[$0] }
        let volume = keepingVolume ? rawVolume(stack, order: order, placements: placements, rows: rows, columns: columns)
            : nil
        let decodedFiles = Set(stack.slices.map(\.file)).sorted().map { files[$0] }
        let first = decodedFiles[0].header
        let syntaxes = Set(decodedFiles.map(\.header.transferSyntax)).sorted { $0.uid < $1.uid }
        let metadata = SeriesMetadata(
            patientId: identity.patientId, studyInstanceUid: identity.studyUID, seriesInstanceUid: key.seriesUID,
            seriesDescription: first.seriesDescription, mriType: mriType, mriTypeSource: typeSource,
            sourceFolder: key.folder, slices: image.slices, rows: image.rows, columns: image.columns,
            slicesTotal: order.count, slicesNonempty: kept.count,
            instanceNumbers: stored.map { placements[$0].instanceNumber }, transferSyntaxes: syntaxes,
            orderCheck: check, intensity: range, crop: crop,
            geometry: SeriesGeometry(imageOrientationPatient: first.imageOrientationPatient,
                                     pixelSpacing: first.pixelSpacing, sliceThickness: first.sliceThickness,
                                     imagePositionPatient: stored.map { placements[$0].position },
                                     frameOfReferenceUid: first.frameOfReferenceUid),
            sliceSources: stored.map { index in
                let slice = stack.slices[index], header = files[slice.file].header
                return SliceSource(sopInstanceUid: header.sopInstanceUid, sopClassUid: header.sopClassUid,
                                   frameNumber: header.numberOfFrames > 1 ? slice.frame + 1 : nil)
            },
            study: identity.attributes, errors: stack.fileErrors + stack.volumeErrors, volume: volume?.record)
        return (.success(IngestedSeries(metadata: metadata, image: image, imageUInt8: truncatedToUInt8(image),
                                        volume: volume?.values)),
                stack.fileErrors + stack.volumeErrors)
    }

    /// The 3D classifier's volume: every decoded slice in `order` (none dropped as empty) whose VOI transform
    /// applied, as float32 (S, H, W). Nil when no slice is left.
    private func rawVolume(_ stack: DecodedStack, order: [Int], placements: [SlicePlacement], rows: Int, columns: Int)
        -> (record: RawVolumeRecord, values: SeriesVolume<Float>)?
    {
        let slices = order.filter { stack.slices[$0].inVolume }
        guard !slices.isEmpty else { return nil }
        let size = rows * columns
        var values = [Float]()
        values.reserveCapacity(slices.count * size)
        for slice in slices {
            let start = stack.slices[slice].start
            values.append(contentsOf: stack.voiPixels[start..<(start + size)])
        }
        return (RawVolumeRecord(slices: slices.count, rows: rows, columns: columns,
                                instanceNumbers: slices.map { placements[$0].instanceNumber }),
                SeriesVolume(slices: slices.count, rows: rows, columns: columns, values: values))
    }

    // MARK: Study identity

    private struct StudyIdentity {
        var patientId: String
        var studyUID: String
        /// As the first file (by path) of the chosen patient and study wrote them.
        var attributes: StudyAttributes
    }

    /// The most common PatientID and StudyInstanceUID among the files (the folder name when PatientID is empty);
    /// a study folder mixing patients or studies gets a warning. The attributes a derived object copies come from
    /// one file of that patient and study, so that they describe one and the same study.
    private func studyIdentity(_ headers: [DicomHeader], study: URL, warnings: inout [IngestIssue]) -> StudyIdentity {
        func mostCommon(_ values: [String], field: String) -> String {
            let counts = Dictionary(grouping: values.filter { !$0.isEmpty }, by: { $0 }).mapValues(\.count)
            if counts.count > 1 {
                warnings.append(IngestIssue(kind: "mixed_\(field)", message: "files carry \(counts.count) different \(field) values"))
            }
            return counts.max { ($0.value, $1.key) < ($1.value, $0.key) }?.key ?? ""
        }
        let patient = mostCommon(headers.map(\.patientId), field: "patient_id")
        let studyUID = mostCommon(headers.map(\.studyInstanceUid), field: "study_instance_uid")
        let source = headers.first { $0.patientId == patient && $0.studyInstanceUid == studyUID }
            ?? headers.first { $0.studyInstanceUid == studyUID }
        return StudyIdentity(patientId: patient.isEmpty ? study.lastPathComponent : patient, studyUID: studyUID,
                             attributes: source?.study ?? StudyAttributes(studyInstanceUid: studyUID))
    }
}

private struct GroupKey: Hashable {
    var folder: String
    var seriesUID: String
}

private struct ScannedFile: Sendable {
    var absolutePath: String
    /// Relative to the study folder.
    var path: String
    var folder: String
    var header: DicomHeader
}

/// A series' decoded pixels: every slice of every decoded file in one buffer, in file order; the same slots of
/// `voiPixels` hold the VOI-transformed values when the series keeps a raw volume (else it is empty).
private struct DecodedStack {
    var pixels: [Float]
    var voiPixels: [Float]
    var slices: [DecodedSlice]
    var fileErrors: [IngestIssue]
    var volumeErrors: [IngestIssue]
}

private struct DecodedSlice {
    /// Index into the series' files, frame within that file, and first value in `DecodedStack.pixels`.
    var file: Int
    var frame: Int
    var start: Int
    /// Whether the slice's VOI values are in `voiPixels` (a raw volume is kept and its file's transform applied).
    var inVolume: Bool
}

/// How one file decoded: `error` leaves it out entirely, `volumeError` only out of the raw volume.
private struct FileDecoding: Sendable {
    var error: IngestIssue?
    var volumeError: IngestIssue?
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

/// A buffer that several threads fill in disjoint slices.
private struct SharedBuffer: @unchecked Sendable {
    let buffer: UnsafeMutableBufferPointer<Float>

    init(_ buffer: UnsafeMutableBufferPointer<Float>) { self.buffer = buffer }

    func slice(from start: Int, count: Int) -> UnsafeMutableBufferPointer<Float> {
        UnsafeMutableBufferPointer(rebasing: buffer[start..<(start + count)])
    }
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
