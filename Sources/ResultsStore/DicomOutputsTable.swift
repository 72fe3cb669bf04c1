// The dicom_outputs table: which DICOM objects were produced for a study and whether they reached the PACS; and
// what the reporter hands the DICOM edge to produce them (series_artifacts, the predictions).
import Domain

extension ResultsTables {
    public struct DicomOutput: Sendable, Equatable {
        public enum Status: String, Sendable {
            /// In the artifact store, not (yet) delivered; also when no destination is configured.
            case stored
            case sent
            /// Delivery gave up after its retries; `resend` tries again.
            case failed
        }

        public var sopInstanceUid: String
        public var studyInstanceUid: String
        public var seriesInstanceUid: String
        /// The segmented series, for a SEG.
        public var sourceSeriesInstanceUid: String?
        public var kind: DicomObjectKind
        public var storeKey: String
        public var destination: String?
        public var status: Status
        public var attempts: Int
        public var error: String?

        public init(sopInstanceUid: String, studyInstanceUid: String, seriesInstanceUid: String,
                    sourceSeriesInstanceUid: String?, kind: DicomObjectKind, storeKey: String, destination: String? = nil,
                    status: Status = .stored, attempts: Int = 0, error: String? = nil) {
            self.sopInstanceUid = sopInstanceUid
            self.studyInstanceUid = studyInstanceUid
            self.seriesInstanceUid = seriesInstanceUid
            self.sourceSeriesInstanceUid = sourceSeriesInstanceUid
            self.kind = kind
            self.storeKey = storeKey
            self.destination = destination
            self.status = status
            self.attempts = attempts
            self.error = error
        }
    }

    /// A written object (re-running a study writes the same UIDs: the row is replaced, its delivery reset).
    public func recordDicomOutput(_ output: DicomOutput) throws {
        try connection.execute("""
            INSERT INTO dicom_outputs (sop_instance_uid, study_instance_uid, series_instance_uid,
                                       source_series_instance_uid, kind, store_key, destination, status, attempts, error)
            VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)
            ON CONFLICT (sop_instance_uid) DO UPDATE SET store_key = EXCLUDED.store_key,
                destination = EXCLUDED.destination, status = EXCLUDED.status, attempts = EXCLUDED.attempts,
                error = EXCLUDED.error, sent_at = NULL, updated_at = now()
            """, [output.sopInstanceUid, output.studyInstanceUid, output.seriesInstanceUid,
                  output.sourceSeriesInstanceUid, output.kind.rawValue, output.storeKey, output.destination,
                  output.status.rawValue, output.attempts, output.error], role: "record dicom output")
    }

    /// The outcome of a delivery of one object to `destination` after `attempts` tries.
    public func recordDicomDelivery(sopInstanceUid: String, destination: String, sent: Bool, attempts: Int,
                                    error: String?) throws {
        try connection.execute("""
            UPDATE dicom_outputs SET destination = $2, status = $3, attempts = $4, error = $5,
                sent_at = CASE WHEN $3 = 'sent' THEN now() END, updated_at = now()
            WHERE sop_instance_uid = $1
            """, [sopInstanceUid, destination, sent ? DicomOutput.Status.sent.rawValue : DicomOutput.Status.failed.rawValue,
                  attempts, error], role: "record dicom delivery")
    }

    /// A study's objects, SEGs first then the SR, each kind by series.
    public func dicomOutputs(studyInstanceUid: String) throws -> [DicomOutput] {
        try connection.execute("""
            SELECT * FROM dicom_outputs WHERE study_instance_uid = $1 ORDER BY kind, series_instance_uid
            """, [studyInstanceUid], role: "read dicom outputs").rows.map { row in
            DicomOutput(
                sopInstanceUid: try row.string("sop_instance_uid"), studyInstanceUid: try row.string("study_instance_uid"),
                seriesInstanceUid: try row.string("series_instance_uid"),
                sourceSeriesInstanceUid: try row.optionalValue("source_series_instance_uid", as: String.self),
                kind: try row.dicomObjectKind("kind"), storeKey: try row.string("store_key"),
                destination: try row.optionalValue("destination", as: String.self),
                status: DicomOutput.Status(rawValue: try row.string("status")) ?? .failed,
                attempts: try row.int("attempts"), error: try row.optionalValue("error", as: String.self))
        }
    }

    /// Where a classified series' directory files are (`SeriesResult.sources`): replaced as a whole.
    public func recordSeriesSources(seriesInstanceUid: String, sources: [String: ArtifactRef]) throws {
        try connection.execute("DELETE FROM series_artifacts WHERE series_instance_uid = $1", [seriesInstanceUid],
                               role: "clear series artifacts")
        for (file, ref) in sources.sorted(by: { $0.key < $1.key }) {
            try connection.execute("""
                INSERT INTO series_artifacts (series_instance_uid, file, key, sha256) VALUES ($1, $2, $3, $4)
                """, [seriesInstanceUid, file, ref.key, ref.sha256], role: "record series artifact")
        }
    }

    /// What the DICOM objects of a study are made from: its patient's prediction and its classified series.
    public struct DeliverableStudy: Sendable, Equatable {
        public var patientId: String
        public var patientProbability: Double?
        public var noResultReason: String?
        public var series: [DeliverableSeries]
    }

    /// The model whose probabilities the SR reports: the 2D method, whose masks the SEGs hold.
    public static let deliveredModel = ClassifierModel.nfnetLSTM

    /// The study's deliverable content, or nil when the study is unknown or not `done`.
    public func deliverableStudy(_ studyInstanceUid: String) throws -> DeliverableStudy? {
        guard let study = try connection.execute("""
            SELECT s.patient_id, p.probability, p.reason
            FROM studies s LEFT JOIN patient_predictions p ON p.patient_id = s.patient_id AND p.model = $2
            WHERE s.study_instance_uid = $1 AND s.status = 'done'
            """, [studyInstanceUid, Self.deliveredModel.rawValue], role: "read deliverable study").rows.first else { return nil }
        let artifacts = try connection.execute("""
            SELECT a.series_instance_uid, a.file, a.key, a.sha256 FROM series_artifacts a JOIN series r USING (series_instance_uid)
            WHERE r.study_instance_uid = $1
            """, [studyInstanceUid], role: "read series artifacts").rows
        var inputs: [String: [String: ArtifactRef]] = [:]
        for row in artifacts {
            inputs[try row.string("series_instance_uid"), default: [:]][try row.string("file")] =
                ArtifactRef(key: try row.string("key"), sha256: try row.string("sha256"))
        }
        let series = try connection.execute("""
            SELECT r.series_instance_uid, r.mri_type, coalesce(r.segmentation_weights_sha256, p.segmentation_weights_sha256)
                   AS segmentation_weights_sha256, p.weights_sha256, p.probability, p.n_chunks
            FROM series r JOIN series_predictions p ON p.series_instance_uid = r.series_instance_uid AND p.model = $2
            WHERE r.study_instance_uid = $1 AND r.status = 'classified' ORDER BY r.mri_type, r.series_instance_uid
            """, [studyInstanceUid, Self.deliveredModel.rawValue], role: "read deliverable series").rows.map { row in
            let uid = try row.string("series_instance_uid")
            return DeliverableSeries(
                seriesInstanceUid: uid, mriType: try row.string("mri_type"), inputs: inputs[uid] ?? [:],
                segmentationWeightsSha256: try row.string("segmentation_weights_sha256"),
                classifierWeightsSha256: try row.string("weights_sha256"), probability: try row.optionalValue("probability"),
                chunkCount: try row.int("n_chunks"))
        }
        return DeliverableStudy(patientId: try study.string("patient_id"), patientProbability: try study.optionalValue("probability"),
                                noResultReason: try study.optionalValue("reason"), series: series)
    }
}

extension PostgresRow {
    /// A `kind` column (the table's CHECK allows only the enum's values).
    func dicomObjectKind(_ column: String) throws -> DicomObjectKind {
        let text = try string(column)
        guard let kind = DicomObjectKind(rawValue: text) else {
            throw PostgresError(kind: .invalidUse, message: "unknown DICOM object kind '\(text)'", role: "read dicom outputs")
        }
        return kind
    }
}
