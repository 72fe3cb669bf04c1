import Domain
import Evaluation
import Foundation
import ResultsStore

/// The results database as people read it: the predictions an evaluation judges, the labels table, and what the
/// results page shows. Every read runs in a READ ONLY transaction on a session that defaults to read-only, so the
/// page could not write even through a bug.
public struct ResultsDatabase: Sendable {
    public let conninfo: String
    public let schema: String

    public init(conninfo: String, schema: String) {
        self.conninfo = conninfo
        self.schema = schema
    }

    /// A fresh session on the results schema; read-only unless `writable`.
    func connect(writable: Bool = false) throws -> PostgresConnection {
        let connection = try PostgresConnection(conninfo: conninfo)
        try connection.execute("SET search_path TO \(try ResultsSchema.quotedIdentifier(schema))", role: "set search_path")
        if !writable {
            try connection.execute("SET SESSION CHARACTERISTICS AS TRANSACTION READ ONLY", role: "read-only session")
        }
        return connection
    }

    /// Runs `body` in a READ ONLY transaction on a fresh read-only session.
    public func read<T>(_ role: String, _ body: (PostgresConnection) throws -> T) throws -> T {
        let connection = try connect()
        return try connection.withTransaction(role: role) { transaction in
            try transaction.execute("SET TRANSACTION READ ONLY", role: "\(role): read only")
            return try body(transaction)
        }
    }

    // MARK: evaluation

    /// The patients' probabilities and, per MRI type, each patient's mean over their series of that type (the
    /// value the patient probability averages), keyed for the join with labels, from one model or from the models'
    /// mean (`label_evaluation` has the groups of each model).
    static func predictions(_ connection: PostgresConnection, from source: PredictionSource) throws
        -> (patient: [Prediction], perType: [String: [Prediction]])
    {
        let patientQuery, perTypeQuery: String
        var parameters: [(any PostgresParameter)?] = []
        switch source {
        case .model(let model):
            patientQuery = "SELECT patient_id, probability FROM patient_predictions WHERE model = $1"
            perTypeQuery = """
                SELECT mri_type, patient_id, avg(probability) AS probability FROM series_predictions
                WHERE model = $1 GROUP BY mri_type, patient_id
                """
            parameters = [model.rawValue]
        case .meanOfModels:
            patientQuery = "SELECT patient_id, mean_probability AS probability FROM patient_predictions_by_model"
            perTypeQuery = """
                SELECT mri_type, patient_id, avg(probability) AS probability FROM series_predictions
                GROUP BY mri_type, patient_id
                """
        }
        let patients = try connection.execute(patientQuery, parameters, role: "read patient predictions").rows.map {
            Prediction(patient: PatientKey(try $0.string("patient_id")), probability: try $0.optionalValue("probability"))
        }
        var perType: [String: [Prediction]] = [:]
        for row in try connection.execute(perTypeQuery, parameters, role: "read series predictions").rows {
            perType[try row.string("mri_type"), default: []].append(
                Prediction(patient: PatientKey(try row.string("patient_id")), probability: try row.optionalValue("probability")))
        }
        return (patients, perType)
    }

    static func evaluate(_ connection: PostgresConnection, _ labels: Labels, from source: PredictionSource) throws
        -> EvaluationReport
    {
        let (patient, perType) = try predictions(connection, from: source)
        return try EvaluationReport(labels: labels, predictionSource: source.description, patientPredictions: patient,
                                    perType: perType)
    }

    public func evaluate(_ labels: Labels, from source: PredictionSource) throws -> EvaluationReport {
        try read("evaluate") { try Self.evaluate($0, labels, from: source) }
    }

    /// The prediction sources with at least one patient probability row: the 2D model always (the page and
    /// `evaluate` show it even before any result), the 3D model and the models' mean once the 3D model has rows.
    static func sourcesWithPredictions(_ connection: PostgresConnection) throws -> [PredictionSource] {
        let hasVolumeRows = try !connection.execute("SELECT 1 FROM patient_predictions WHERE model = 'resnet3d' LIMIT 1",
                                                    role: "read models").rows.isEmpty
        return hasVolumeRows ? PredictionSource.allCases : [.model(.nfnetLSTM)]
    }

    public func sourcesWithPredictions() throws -> [PredictionSource] {
        try read("read models") { try Self.sourcesWithPredictions($0) }
    }

    /// An evaluation per prediction source with results, all read in `connection`'s transaction; none without labels.
    static func evaluations(_ connection: PostgresConnection, labels: Labels?) throws -> [EvaluationReport] {
        guard let labels else { return [] }
        return try sourcesWithPredictions(connection).map { try evaluate(connection, labels, from: $0) }
    }

    /// The labels loaded with `loadLabels`; nil when none are.
    public func loadedLabels() throws -> Labels? {
        try read("read labels") { try Self.labels($0) }
    }

    static func labels(_ connection: PostgresConnection) throws -> Labels? {
        let rows = try connection.execute("SELECT patient_key, mgmt_value FROM patient_labels", role: "read labels").rows
        guard !rows.isEmpty else { return nil }
        var methylated: [PatientKey: Bool] = [:]
        for row in rows { methylated[PatientKey(try row.string("patient_key"))] = try row.int("mgmt_value") == 1 }
        return Labels(methylated: methylated)
    }

    /// Replaces the labels table's rows with `labels` in one transaction (a labels file is the whole truth).
    public func loadLabels(_ labels: Labels, from source: String) throws {
        let connection = try connect(writable: true)
        try connection.withTransaction(role: "load labels") { transaction in
            try transaction.execute("DELETE FROM patient_labels", role: "clear labels")
            for (key, methylated) in labels.methylated.sorted(by: { $0.key < $1.key }) {
                try transaction.execute(
                    "INSERT INTO patient_labels (patient_key, mgmt_value, loaded_from) VALUES (patient_key($1), $2, $3)",
                    [key.value, methylated ? 1 : 0, source], role: "insert label")
            }
        }
    }

    /// The `label_evaluation` view's rows, by group.
    public func labelEvaluationView() throws -> [String: PostgresRow] {
        try read("read label_evaluation") { connection in
            var rows: [String: PostgresRow] = [:]
            for row in try connection.execute("SELECT * FROM label_evaluation", role: "read label_evaluation").rows {
                rows[try row.string("grp")] = row
            }
            return rows
        }
    }
}
