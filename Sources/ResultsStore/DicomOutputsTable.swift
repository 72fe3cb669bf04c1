// The dicom_outputs table: which DICOM objects were produced for a study and whether they reached the PACS.
extension ResultsTables {
    public struct DicomOutput: Sendable, Equatable {
        public enum Kind: String, Sendable { case segmentation = "SEG", report = "SR" }
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
        public var kind: Kind
        public var storeKey: String
        public var destination: String?
        public var status: Status
        public var attempts: Int
        public var error: String?

        public init(sopInstanceUid: String, studyInstanceUid: String, seriesInstanceUid: String,
                    sourceSeriesInstanceUid: String?, kind: Kind, storeKey: String, destination: String? = nil,
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
                kind: DicomOutput.Kind(rawValue: try row.string("kind")) ?? .report, storeKey: try row.string("store_key"),
                destination: try row.optionalValue("destination", as: String.self),
                status: DicomOutput.Status(rawValue: try row.string("status")) ?? .failed,
                attempts: try row.int("attempts"), error: try row.optionalValue("error", as: String.self))
        }
    }
}
