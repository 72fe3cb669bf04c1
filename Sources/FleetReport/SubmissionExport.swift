import Domain
import Logging
import ResultsStore

/// `reporter export --csv`: the reference solution's submission format, one row per patient.
public enum SubmissionExport {
    public struct Row: Sendable, Equatable {
        public var patientId: String
        public var probability: Double?

        public init(patientId: String, probability: Double?) {
            self.patientId = patientId
            self.probability = probability
        }
    }

    /// One model's patient probabilities, or the models' mean (`patient_predictions_by_model`).
    public static func rows(conninfo: String, schema: String, from source: PredictionSource) throws -> [Row] {
        let connection = try PostgresConnection(conninfo: conninfo)
        try connection.execute("SET search_path TO \(try ResultsSchema.quotedIdentifier(schema))", role: "set search_path")
        switch source {
        case .model(let model):
            return try ResultsTables(connection).patientPredictions(model: model).map {
                Row(patientId: $0.patientId, probability: $0.probability)
            }
        case .meanOfModels:
            return try connection.execute("""
                SELECT patient_id, mean_probability FROM patient_predictions_by_model ORDER BY patient_id
                """, role: "read mean of models").rows.map {
                Row(patientId: try $0.string("patient_id"), probability: try $0.optionalValue("mean_probability"))
            }
        }
    }

    public static func csv(_ rows: [Row], fillMissing: Double?) -> String {
        var text = "BraTS21ID,MGMT_value\n"
        for row in rows {
            let value = (row.probability ?? fillMissing).map { "\($0)" } ?? ""
            text += "\(row.patientId),\(value)\n"
        }
        return text
    }
}
