import Logging
import ResultsStore

/// `reporter export --csv`: the reference solution's submission format, one row per patient.
public enum SubmissionExport {
    public static func rows(conninfo: String, schema: String) throws -> [ResultsTables.PatientPrediction] {
        let connection = try PostgresConnection(conninfo: conninfo)
        try connection.execute("SET search_path TO \(try ResultsSchema.quotedIdentifier(schema))", role: "set search_path")
        return try ResultsTables(connection).patientPredictions()
    }

    public static func csv(_ rows: [ResultsTables.PatientPrediction], fillMissing: Double?) -> String {
        var text = "BraTS21ID,MGMT_value\n"
        for row in rows {
            let value = (row.probability ?? fillMissing).map { "\($0)" } ?? ""
            text += "\(row.patientId),\(value)\n"
        }
        return text
    }
}
