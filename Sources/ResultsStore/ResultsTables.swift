import Domain

/// The reporter's writes and the queries users and tests run, over the tables of `ResultsSchema`.
/// Every write is an upsert keyed by natural identifiers, so replaying a message changes nothing.
/// Call the writes inside one transaction per message (`PostgresConnection.withTransaction`).
public struct ResultsTables {
    public let connection: PostgresConnection

    public init(_ connection: PostgresConnection) {
        self.connection = connection
    }

    public enum SeriesStatus: String, Sendable {
        case ingested, segmented, classified, failed
    }

    // MARK: writes

    /// Ingest found a study and its series. With no series the study is failed with `error`. A series the 3D
    /// classifier will report on gets `resnet3d_status` pending (unless its result came first).
    public func recordStudyIngested(studyInstanceUid: String, patientId: String, source: String?,
                                    series: [SeriesSummary], warnings: String?, error: String?) throws {
        try connection.execute("""
            INSERT INTO studies (study_instance_uid, patient_id, source, status, n_series, warnings, error)
            VALUES ($1, $2, $3, 'ingested', $4, $5, $6)
            ON CONFLICT (study_instance_uid) DO UPDATE SET patient_id = EXCLUDED.patient_id,
                source = coalesce(EXCLUDED.source, studies.source), n_series = EXCLUDED.n_series,
                warnings = EXCLUDED.warnings, error = EXCLUDED.error, updated_at = now()
            """, [studyInstanceUid, patientId, source, series.count, warnings, error], role: "upsert study")
        for found in series {
            try connection.execute("""
                INSERT INTO series (series_instance_uid, study_instance_uid, patient_id, mri_type, slices_total,
                                    slices_kept, status, resnet3d_status)
                VALUES ($1, $2, $3, $4, $5, $6, 'ingested', $7)
                ON CONFLICT (series_instance_uid) DO UPDATE SET slices_total = EXCLUDED.slices_total,
                    slices_kept = EXCLUDED.slices_kept, mri_type = EXCLUDED.mri_type,
                    resnet3d_status = coalesce(series.resnet3d_status, EXCLUDED.resnet3d_status), updated_at = now()
                """, [found.seriesInstanceUid, studyInstanceUid, patientId, found.mriType, found.slicesTotal,
                      found.slicesKept, found.expectedModels.contains(.resnet3d) ? "pending" : nil],
                role: "upsert ingested series")
        }
        try refreshStudy(studyInstanceUid)
    }

    /// A study-level failure before any series (e.g. no readable DICOM): recorded when its identifiers are known.
    public func recordStudyFailed(studyInstanceUid: String, patientId: String, source: String?, error: String) throws {
        try connection.execute("""
            INSERT INTO studies (study_instance_uid, patient_id, source, status, error)
            VALUES ($1, $2, $3, 'failed', $4)
            ON CONFLICT (study_instance_uid) DO UPDATE SET status = 'failed', error = EXCLUDED.error,
                updated_at = now()
            """, [studyInstanceUid, patientId, source, error], role: "fail study")
    }

    /// A series moved to `status`. Status only moves forward (ingested < segmented < failed < classified), so a
    /// late or replayed event never undoes a later one. The study row is created if the series event came first.
    public func recordSeriesStatus(_ key: SeriesIdentity, status: SeriesStatus, error: String? = nil,
                                   segmentationWeightsSha256: String? = nil, slicesSelected: Int? = nil) throws {
        try connection.execute("""
            INSERT INTO studies (study_instance_uid, patient_id, status) VALUES ($1, $2, 'ingested')
            ON CONFLICT (study_instance_uid) DO NOTHING
            """, [key.studyInstanceUid, key.patientId], role: "ensure study")
        try connection.execute("""
            INSERT INTO series (series_instance_uid, study_instance_uid, patient_id, mri_type, status, error,
                                segmentation_weights_sha256, slices_selected)
            VALUES ($1, $2, $3, $4, $5, $6, $7, $8)
            ON CONFLICT (series_instance_uid) DO UPDATE SET
                status = CASE WHEN \(rank("EXCLUDED.status")) >= \(rank("series.status"))
                              THEN EXCLUDED.status ELSE series.status END,
                error = CASE WHEN \(rank("EXCLUDED.status")) >= \(rank("series.status"))
                             THEN EXCLUDED.error ELSE series.error END,
                segmentation_weights_sha256 = coalesce(EXCLUDED.segmentation_weights_sha256,
                                                       series.segmentation_weights_sha256),
                slices_selected = coalesce(EXCLUDED.slices_selected, series.slices_selected),
                updated_at = now()
            """, [key.seriesInstanceUid, key.studyInstanceUid, key.patientId, key.mriType, status.rawValue, error,
                  segmentationWeightsSha256, slicesSelected], role: "upsert series status")
        if status == .classified || status == .failed {
            try refreshStudy(key.studyInstanceUid)
            try refreshPatient(key.patientId)
        }
    }

    /// A classified series: its chunks replace any earlier ones, its series prediction is
    /// `Aggregation.seriesProbability` of them (NULL with the no-chunks reason when there are none), and the
    /// patient's prediction is recomputed.
    public func recordSeriesClassified(_ key: SeriesIdentity, result: SeriesResult, computedAt: String) throws {
        try recordSeriesStatus(key, status: .segmented, segmentationWeightsSha256: result.segmentationWeightsSha256)
        try connection.execute("DELETE FROM chunk_predictions WHERE series_instance_uid = $1",
                               [key.seriesInstanceUid], role: "clear chunk predictions")
        for chunk in result.chunks {
            try connection.execute("""
                INSERT INTO chunk_predictions (series_instance_uid, chunk_index, first_instance, probability,
                                               weights_sha256, segmentation_weights_sha256, computed_at)
                VALUES ($1, $2, $3, $4, $5, $6, $7)
                """, [key.seriesInstanceUid, chunk.index, chunk.firstInstance, chunk.probability, result.weightsSha256,
                      result.segmentationWeightsSha256, computedAt], role: "insert chunk prediction")
        }
        try connection.execute("""
            INSERT INTO series_predictions (series_instance_uid, patient_id, mri_type, probability, n_chunks, reason,
                                            weights_sha256, segmentation_weights_sha256, computed_at)
            VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)
            ON CONFLICT (series_instance_uid, model) DO UPDATE SET probability = EXCLUDED.probability,
                n_chunks = EXCLUDED.n_chunks, reason = EXCLUDED.reason, weights_sha256 = EXCLUDED.weights_sha256,
                segmentation_weights_sha256 = EXCLUDED.segmentation_weights_sha256,
                computed_at = EXCLUDED.computed_at
            """, [key.seriesInstanceUid, key.patientId, key.mriType, result.probability, result.chunks.count,
                  result.chunks.isEmpty ? (result.noChunksReason ?? "no chunks") : nil, result.weightsSha256,
                  result.segmentationWeightsSha256, computedAt], role: "upsert series prediction")
        try recordSeriesStatus(key, status: .classified, slicesSelected: result.slicesSelected)
    }

    /// The 3D classifier's state of a series (`series.resnet3d_status`), moving only forward (pending < failed <
    /// classified) like `recordSeriesStatus`; the series row is created if this event came before ingest's.
    public func recordVolumeStatus(_ key: SeriesIdentity, status: VolumeStatus, error: String? = nil) throws {
        try upsertVolumeStatus(key, status: status, error: error)
        try refreshStudy(key.studyInstanceUid)
        try refreshPatient(key.patientId)
    }

    private func upsertVolumeStatus(_ key: SeriesIdentity, status: VolumeStatus, error: String?) throws {
        try connection.execute("""
            INSERT INTO studies (study_instance_uid, patient_id, status) VALUES ($1, $2, 'ingested')
            ON CONFLICT (study_instance_uid) DO NOTHING
            """, [key.studyInstanceUid, key.patientId], role: "ensure study")
        let rank = { (column: String) in "array_position(ARRAY['pending', 'failed', 'classified'], \(column))" }
        try connection.execute("""
            INSERT INTO series (series_instance_uid, study_instance_uid, patient_id, mri_type, status, resnet3d_status,
                                resnet3d_error)
            VALUES ($1, $2, $3, $4, 'ingested', $5, $6)
            ON CONFLICT (series_instance_uid) DO UPDATE SET
                resnet3d_status = CASE WHEN coalesce(\(rank("EXCLUDED.resnet3d_status")) >= \(rank("series.resnet3d_status")), true)
                                       THEN EXCLUDED.resnet3d_status ELSE series.resnet3d_status END,
                resnet3d_error = CASE WHEN coalesce(\(rank("EXCLUDED.resnet3d_status")) >= \(rank("series.resnet3d_status")), true)
                                      THEN EXCLUDED.resnet3d_error ELSE series.resnet3d_error END,
                updated_at = now()
            """, [key.seriesInstanceUid, key.studyInstanceUid, key.patientId, key.mriType, status.rawValue, error],
            role: "upsert series 3D status")
    }

    public enum VolumeStatus: String, Sendable {
        case classified, failed
    }

    /// A series classified by the 3D model: its status, its `resnet3d` series prediction (one volume), then the
    /// study's status and the patient's predictions.
    public func recordVolumeClassified(_ key: SeriesIdentity, result: VolumeResult, computedAt: String) throws {
        try upsertVolumeStatus(key, status: .classified, error: nil)
        try connection.execute("""
            INSERT INTO series_predictions (series_instance_uid, model, patient_id, mri_type, probability, n_chunks,
                                            weights_sha256, computed_at)
            VALUES ($1, $2, $3, $4, $5, 1, $6, $7)
            ON CONFLICT (series_instance_uid, model) DO UPDATE SET probability = EXCLUDED.probability,
                weights_sha256 = EXCLUDED.weights_sha256, computed_at = EXCLUDED.computed_at
            """, [key.seriesInstanceUid, ClassifierModel.resnet3d.rawValue, key.patientId, key.mriType,
                  result.probability, result.weightsSha256, computedAt], role: "upsert 3D series prediction")
        try refreshStudy(key.studyInstanceUid)
        try refreshPatient(key.patientId)
    }

    /// Where the series' preview PNG is in the artifact store (`reporter preview`, the results page).
    public func recordSeriesPreview(seriesInstanceUid: String, key: String, sha256: String) throws {
        try connection.execute("UPDATE series SET preview_key = $2, preview_sha256 = $3 WHERE series_instance_uid = $1",
                               [seriesInstanceUid, key, sha256], role: "record series preview")
    }

    /// The patient's rows, one per model, from its series rows: the probability is `Aggregation.patientScore`
    /// over the model's series predictions. With no chunks anywhere the row has a NULL probability and says why,
    /// per series. The 3D model's row exists once a series of the patient runs it.
    public func refreshPatient(_ patientId: String) throws {
        for model in ClassifierModel.allCases {
            try refreshPatient(patientId, model: model)
        }
    }

    private func refreshPatient(_ patientId: String, model: ClassifierModel) throws {
        let (status, error) = model == .resnet3d ? ("r.resnet3d_status", "r.resnet3d_error") : ("r.status", "r.error")
        let rows = try connection.execute("""
            SELECT r.mri_type, p.probability, coalesce(p.n_chunks, 0) AS n_chunks, p.weights_sha256,
                   coalesce(p.reason, \(error), 'still ' || \(status)) AS reason
            FROM series r LEFT JOIN series_predictions p ON p.series_instance_uid = r.series_instance_uid
                                                         AND p.model = $2
            WHERE r.patient_id = $1 AND \(status) IS NOT NULL ORDER BY r.mri_type, r.series_instance_uid
            """, [patientId, model.rawValue], role: "read patient series").rows
        if rows.isEmpty && model == .resnet3d { return }
        var scored: [Aggregation.ScoredSeries] = []
        var weights = Set<String>()
        var withoutChunks: [String] = []
        for row in rows {
            let series = Aggregation.ScoredSeries(
                mriType: try row.string("mri_type"), probability: try row.optionalValue("probability"),
                chunkCount: try row.int("n_chunks"))
            scored.append(series)
            if series.chunkCount > 0 {
                if let sha: String = try row.optionalValue("weights_sha256") { weights.insert(sha) }
            } else {
                withoutChunks.append("\(series.mriType): \(try row.string("reason"))")
            }
        }
        let score = Aggregation.patientScore(scored)
        let reason = score.probability == nil
            ? "no chunks in any MRI type (\(withoutChunks.isEmpty ? "no series" : withoutChunks.joined(separator: "; ")))"
            : nil
        try connection.execute("""
            INSERT INTO patient_predictions (patient_id, probability, n_types, n_chunks, reason, weights_sha256,
                                             computed_at, model)
            VALUES ($1, $2, $3, $4, $5, string_to_array($6, ','), now(), $7)
            ON CONFLICT (patient_id, model) DO UPDATE SET probability = EXCLUDED.probability, n_types = EXCLUDED.n_types,
                n_chunks = EXCLUDED.n_chunks, reason = EXCLUDED.reason, weights_sha256 = EXCLUDED.weights_sha256,
                computed_at = EXCLUDED.computed_at
            """, [patientId, score.probability, score.typeCount, score.chunkCount, reason,
                  weights.sorted().joined(separator: ","), model.rawValue], role: "refresh patient prediction")
    }

    /// A study is done when every series it announced is classified or failed, by each model that runs on it;
    /// with no series it failed.
    private func refreshStudy(_ studyInstanceUid: String) throws {
        try connection.execute("""
            UPDATE studies s SET status = CASE
                    WHEN s.n_series = 0 AND s.error IS NOT NULL THEN 'failed'
                    WHEN s.n_series > 0 AND (SELECT count(*) FROM series r WHERE r.study_instance_uid = s.study_instance_uid
                                             AND r.status IN ('classified', 'failed')
                                             AND coalesce(r.resnet3d_status, 'classified') IN ('classified', 'failed'))
                                            >= s.n_series THEN 'done'
                    ELSE 'ingested' END,
                updated_at = now()
            WHERE s.study_instance_uid = $1
            """, [studyInstanceUid], role: "refresh study status")
    }

    /// One row per (kind, stage, job): a replayed failure updates `last_seen` and the reason.
    /// Longest text kept per `failures` column: whatever a message carried (a hostile one too: a 30 MB path),
    /// a failure row stays small. Longer text keeps its start and says how long it was.
    public enum FailureTextLimit {
        public static let identifier = 256
        public static let source = 1024
        public static let reason = 2000
        public static let bodyExcerpt = 512
    }

    public func recordFailure(kind: FailureKind, stage: String, jobId: String, patientId: String? = nil,
                              studyInstanceUid: String? = nil, seriesInstanceUid: String? = nil,
                              source: String? = nil, queue: String? = nil, reason: String,
                              bodyExcerpt: String? = nil) throws {
        let id = FailureTextLimit.identifier
        let (stage, jobId, queue) = (stage.bounded(to: id), jobId.bounded(to: id), queue?.bounded(to: id))
        let (patientId, studyInstanceUid) = (patientId?.bounded(to: id), studyInstanceUid?.bounded(to: id))
        let seriesInstanceUid = seriesInstanceUid?.bounded(to: id)
        let source = source?.bounded(to: FailureTextLimit.source)
        let reason = reason.bounded(to: FailureTextLimit.reason)
        let bodyExcerpt = bodyExcerpt?.bounded(to: FailureTextLimit.bodyExcerpt)
        try connection.execute("""
            INSERT INTO failures (kind, stage, job_id, patient_id, study_instance_uid, series_instance_uid, source,
                                  queue, reason, body_excerpt)
            VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)
            ON CONFLICT (kind, stage, job_id) DO UPDATE SET reason = EXCLUDED.reason, last_seen = now(),
                queue = coalesce(EXCLUDED.queue, failures.queue)
            """, [kind.rawValue, stage, jobId, patientId, studyInstanceUid, seriesInstanceUid, source, queue, reason,
                  bodyExcerpt], role: "record failure")
    }

    public enum FailureKind: String, Sendable {
        /// A worker reported a permanent failure.
        case failed
        /// The broker dead-lettered a message (undecodable, or over the delivery limit).
        case deadLettered = "dead-lettered"
    }

    private func rank(_ column: String) -> String {
        "array_position(ARRAY['ingested', 'segmented', 'failed', 'classified'], \(column))"
    }

    // MARK: queries

    public struct PatientPrediction: Sendable, Equatable {
        public var patientId: String
        public var model: ClassifierModel
        public var probability: Double?
        public var nTypes: Int
        public var nChunks: Int
        public var reason: String?
        public var weightsSha256: [String]
    }

    /// Patient rows of one model (by default the 2D one, the rows from before the 3D model).
    public func patientPredictions(model: ClassifierModel = .nfnetLSTM) throws -> [PatientPrediction] {
        try connection.execute("""
            SELECT patient_id, probability, n_types, n_chunks, reason, array_to_string(weights_sha256, ',') AS weights
            FROM patient_predictions WHERE model = $1 ORDER BY patient_id
            """, [model.rawValue], role: "read patient predictions").rows.map { row in
            PatientPrediction(
                patientId: try row.string("patient_id"), model: model, probability: try row.optionalValue("probability"),
                nTypes: try row.int("n_types"), nChunks: try row.int("n_chunks"), reason: try row.optionalValue("reason"),
                weightsSha256: try row.string("weights").split(separator: ",").map(String.init))
        }
    }

    public struct ChunkPrediction: Sendable, Equatable {
        public var seriesInstanceUid: String
        public var mriType: String
        public var chunk: ChunkResult
        public var weightsSha256: String
    }

    public func chunkPredictions(patientId: String) throws -> [ChunkPrediction] {
        try connection.execute("""
            SELECT c.series_instance_uid, r.mri_type, c.chunk_index, c.first_instance, c.probability, c.weights_sha256
            FROM chunk_predictions c JOIN series r USING (series_instance_uid)
            WHERE r.patient_id = $1 ORDER BY r.mri_type, c.series_instance_uid, c.chunk_index
            """, [patientId], role: "read chunk predictions").rows.map { row in
            ChunkPrediction(
                seriesInstanceUid: try row.string("series_instance_uid"), mriType: try row.string("mri_type"),
                chunk: ChunkResult(index: try row.int("chunk_index"), firstInstance: try row.optionalValue("first_instance"),
                             probability: try row.double("probability")),
                weightsSha256: try row.string("weights_sha256"))
        }
    }

    public struct SeriesState: Sendable, Equatable {
        public var seriesInstanceUid: String
        public var mriType: String
        public var status: String
        public var error: String?
    }

    public func seriesStates(studyInstanceUid: String) throws -> [SeriesState] {
        try connection.execute("""
            SELECT series_instance_uid, mri_type, status, error FROM series WHERE study_instance_uid = $1
            ORDER BY mri_type, series_instance_uid
            """, [studyInstanceUid], role: "read series").rows.map { row in
            SeriesState(seriesInstanceUid: try row.string("series_instance_uid"), mriType: try row.string("mri_type"),
                        status: try row.string("status"), error: try row.optionalValue("error"))
        }
    }

    public func studyStatus(_ studyInstanceUid: String) throws -> String? {
        try connection.execute("SELECT status FROM studies WHERE study_instance_uid = $1", [studyInstanceUid],
                               role: "read study status").rows.first.map { try $0.string("status") }
    }

    public struct Failure: Sendable, Equatable {
        public var kind: String
        public var stage: String
        public var jobId: String
        public var queue: String?
        public var reason: String
    }

    public func failures() throws -> [Failure] {
        try connection.execute("SELECT kind, stage, job_id, queue, reason FROM failures ORDER BY id",
                               role: "read failures").rows.map { row in
            Failure(kind: try row.string("kind"), stage: try row.string("stage"), jobId: try row.string("job_id"),
                    queue: try row.optionalValue("queue"), reason: try row.string("reason"))
        }
    }

    /// Row counts of the result tables (for tests and progress displays).
    public func rowCounts() throws -> [String: Int] {
        let row = try connection.execute("""
            SELECT (SELECT count(*) FROM studies) AS studies, (SELECT count(*) FROM series) AS series,
                   (SELECT count(*) FROM chunk_predictions) AS chunk_predictions,
                   (SELECT count(*) FROM series_predictions) AS series_predictions,
                   (SELECT count(*) FROM patient_predictions) AS patient_predictions,
                   (SELECT count(*) FROM failures) AS failures
            """, role: "count rows").rows[0]
        var counts: [String: Int] = [:]
        for name in ["studies", "series", "chunk_predictions", "series_predictions", "patient_predictions", "failures"] {
            counts[name] = try row.int(name)
        }
        return counts
    }
}

extension String {
    /// At most `limit` characters: the start, then how long the whole was (a marker within the limit).
    public func bounded(to limit: Int) -> String {
        // The byte count is O(1) for native strings; count characters only when the bytes already exceed the limit.
        guard utf8.count > limit, count > limit else { return self }
        let marker = "… [\(utf8.count) bytes in all]"
        return String(prefix(max(limit - marker.count, 0))) + marker
    }
}
