import Dispatch
import Domain
import Evaluation
import ResultsPage
import ResultsStore

/// The results page's reads (`ResultsSource`) from PostgreSQL; previews come from the artifact store through
/// `loadPreview(key, sha256)`, which verifies the checksum the series row recorded.
public struct PageSource: ResultsSource {
    public let database: ResultsDatabase
    public let loadPreview: @Sendable (_ key: String, _ sha256: String) throws -> [UInt8]
    /// How many of the most recent failures the overview lists.
    public let failureLimit: Int

    public init(database: ResultsDatabase, failureLimit: Int = 50,
                loadPreview: @escaping @Sendable (_ key: String, _ sha256: String) throws -> [UInt8]) {
        self.database = database
        self.failureLimit = failureLimit
        self.loadPreview = loadPreview
    }

    static let timestamp = "YYYY-MM-DD HH24:MI:SS TZ"

    public func overview() async throws -> ResultsOverview {
        try await offload {
            let (patients, inFlight, failures, evaluations) = try database.read("read overview") { connection in
                var perType: [String: [String: Double?]] = [:]
                for row in try connection.execute("""
                    SELECT patient_id, mri_type, avg(probability) AS probability FROM series_predictions
                    WHERE model = 'nfnet-lstm' GROUP BY 1, 2
                    """, role: "read per-type probabilities").rows {
                    perType[try row.string("patient_id"), default: [:]][try row.string("mri_type")] =
                        .some(try row.optionalValue("probability", as: Double.self))
                }
                let otherSources = try Self.otherSources(connection, patientId: nil)
                let patients = try connection.execute("""
                    SELECT patient_id, probability, n_types, n_chunks, reason,
                           to_char(computed_at, '\(Self.timestamp)') AS computed
                    FROM patient_predictions WHERE model = 'nfnet-lstm' ORDER BY patient_id
                    """, role: "read patients").rows.map { row in
                    let id = try row.string("patient_id")
                    return PatientSummary(patientId: id, probability: try row.optionalValue("probability"),
                                          typeCount: try row.int("n_types"), chunkCount: try row.int("n_chunks"),
                                          reason: try row.optionalValue("reason"), perType: perType[id] ?? [:],
                                          computedAt: try row.string("computed"), otherSources: otherSources[id] ?? [:])
                }
                let inFlight = try connection.execute("""
                    SELECT study_instance_uid, patient_id, to_char(received_at, '\(Self.timestamp)') AS received,
                           n_series, series_finished, coalesce(series_status, '') AS series_status
                    FROM studies_in_flight ORDER BY received_at, study_instance_uid
                    """, role: "read studies in flight").rows.map { row in
                    StudyInFlight(studyUID: try row.string("study_instance_uid"), patientId: try row.string("patient_id"),
                                  receivedAt: try row.string("received"), seriesCount: try row.int("n_series"),
                                  seriesFinished: try row.int("series_finished"), seriesStages: try row.string("series_status"))
                }
                let failures = try connection.execute("""
                    SELECT to_char(last_seen, '\(Self.timestamp)') AS seen, kind, stage, patient_id, series_instance_uid, reason
                    FROM failures ORDER BY last_seen DESC, id DESC LIMIT $1
                    """, [failureLimit], role: "read failures").rows.map { row in
                    FailureRecord(lastSeen: try row.string("seen"), kind: try row.string("kind"), stage: try row.string("stage"),
                                  patientId: try row.optionalValue("patient_id"),
                                  seriesUID: try row.optionalValue("series_instance_uid"), reason: try row.string("reason"))
                }
                let evaluations = try ResultsDatabase.evaluations(connection, labels: try ResultsDatabase.labels(connection))
                return (patients, inFlight, failures, evaluations)
            }
            return ResultsOverview(patients: patients, studiesInFlight: inFlight, recentFailures: failures,
                                   evaluations: evaluations)
        }
    }

    /// The 3D model's patient probability and the models' mean, for the patients the 3D model has a row for (one
    /// patient, or all when `patientId` is nil), by prediction source name.
    static func otherSources(_ connection: PostgresConnection, patientId: String?) throws -> [String: [String: Double?]] {
        var sources: [String: [String: Double?]] = [:]
        for row in try connection.execute("""
            SELECT v.patient_id, v.resnet3d, v.mean_probability FROM patient_predictions_by_model v
            WHERE EXISTS (SELECT 1 FROM patient_predictions p WHERE p.patient_id = v.patient_id AND p.model = 'resnet3d')
              AND ($1::text IS NULL OR v.patient_id = $1)
            """, [patientId], role: "read predictions by model").rows {
            sources[try row.string("patient_id")] = [
                PredictionSource.model(.resnet3d).description: try row.optionalValue("resnet3d", as: Double.self),
                PredictionSource.meanOfModels.description: try row.optionalValue("mean_probability", as: Double.self),
            ]
        }
        return sources
    }


    public func patient(_ patientId: String) async throws -> PatientDetail? {
        try await offload {
            try database.read("read patient") { connection in
                let summary = try connection.execute("""
                    SELECT probability, n_types, n_chunks, reason, to_char(computed_at, '\(Self.timestamp)') AS computed
                    FROM patient_predictions WHERE patient_id = $1 AND model = 'nfnet-lstm'
                    """, [patientId], role: "read patient").rows.first
                var chunks: [String: [Double]] = [:]
                for row in try connection.execute("""
                    SELECT c.series_instance_uid, c.probability FROM chunk_predictions c JOIN series r USING (series_instance_uid)
                    WHERE r.patient_id = $1 ORDER BY c.series_instance_uid, c.chunk_index
                    """, [patientId], role: "read chunks").rows {
                    chunks[try row.string("series_instance_uid"), default: []].append(try row.double("probability"))
                }
                let series = try connection.execute("""
                    SELECT r.series_instance_uid, r.mri_type, r.status, r.slices_total, r.slices_kept, r.slices_selected,
                           r.preview_key IS NOT NULL AS has_preview, p.probability, coalesce(r.error, p.reason) AS reason,
                           r.resnet3d_status, v.probability AS resnet3d_probability,
                           coalesce(r.resnet3d_error, v.reason) AS resnet3d_reason
                    FROM series r LEFT JOIN series_predictions p ON p.series_instance_uid = r.series_instance_uid
                                                                 AND p.model = 'nfnet-lstm'
                                  LEFT JOIN series_predictions v ON v.series_instance_uid = r.series_instance_uid
                                                                 AND v.model = 'resnet3d'
                    WHERE r.patient_id = $1 ORDER BY r.mri_type, r.series_instance_uid
                    """, [patientId], role: "read series").rows.map { row in
                    let uid = try row.string("series_instance_uid")
                    let volume = try row.optionalValue("resnet3d_status", as: String.self).map { status in
                        VolumeDetail(status: status, probability: try row.optionalValue("resnet3d_probability"),
                                     reason: try row.optionalValue("resnet3d_reason"))
                    }
                    return SeriesDetail(seriesUID: uid, mriType: try row.string("mri_type"), status: try row.string("status"),
                                        slicesTotal: try row.optionalValue("slices_total"),
                                        slicesKept: try row.optionalValue("slices_kept"),
                                        slicesSelected: try row.optionalValue("slices_selected"),
                                        probability: try row.optionalValue("probability"),
                                        chunkProbabilities: chunks[uid] ?? [], reason: try row.optionalValue("reason"),
                                        hasPreview: try row.bool("has_preview"), volume: volume)
                }
                let otherSources = try Self.otherSources(connection, patientId: patientId)[patientId] ?? [:]
                guard summary != nil || !series.isEmpty else { return nil }
                var perType: [String: [Double]] = [:]
                for s in series { if let p = s.probability { perType[s.mriType, default: []].append(p) } }
                return PatientDetail(patientId: patientId, summary: try summary.map { row in
                    PatientSummary(patientId: patientId, probability: try row.optionalValue("probability"),
                                   typeCount: try row.int("n_types"), chunkCount: try row.int("n_chunks"),
                                   reason: try row.optionalValue("reason"),
                                   perType: perType.mapValues { $0.reduce(0, +) / Double($0.count) },
                                   computedAt: try row.string("computed"), otherSources: otherSources)
                }, series: series)
            }
        }
    }

    public func preview(seriesUID: String) async throws -> [UInt8]? {
        try await offload {
            let stored = try database.read("read preview key") { connection in
                try connection.execute("""
                    SELECT preview_key, preview_sha256 FROM series WHERE series_instance_uid = $1 AND preview_key IS NOT NULL
                    """, [seriesUID], role: "read preview key").rows.first.map {
                    (try $0.string("preview_key"), try $0.string("preview_sha256"))
                }
            }
            return try stored.map { try loadPreview($0.0, $0.1) }
        }
    }

    public func evaluations() async throws -> [EvaluationReport] {
        try await offload {
            try database.read("read evaluations") { try ResultsDatabase.evaluations($0, labels: try ResultsDatabase.labels($0)) }
        }
    }

    /// libpq blocks: run it on a dispatch thread, not on the concurrency pool the HTTP server answers from.
    private func offload<T: Sendable>(_ work: @escaping @Sendable () throws -> T) async throws -> T {
        try await withCheckedThrowingContinuation { continuation in
            DispatchQueue.global().async { continuation.resume(with: Result { try work() }) }
        }
    }
}
