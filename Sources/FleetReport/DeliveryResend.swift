import Fleet
import Logging
import ResultsStore

/// `reporter resend STUDY_INSTANCE_UID`: publishes a done study's `deliver` job again, made from the results
/// database as on completion, so the DICOM edge writes (the same UIDs) and sends its objects again, e.g. after
/// the PACS was down.
public enum DeliveryResend {
    public enum Failure: Error, CustomStringConvertible {
        case notDone(String)

        public var description: String {
            switch self {
            case .notDone(let study): "study \(study) is not in the results database or not done: nothing to deliver"
            }
        }
    }

    @discardableResult
    public static func publish(studyInstanceUid: String, conninfo: String, schema: String, options: WorkerOptions,
                               logger: Logger) throws -> DeliverJob {
        let connection = try PostgresConnection(conninfo: conninfo)
        try connection.execute("SET search_path TO \(try ResultsSchema.quotedIdentifier(schema))", role: "set search_path")
        guard let job = try ReporterStage.deliverJob(studyInstanceUid, in: ResultsTables(connection)) else {
            throw Failure.notDone(studyInstanceUid)
        }
        let publisher = try MessagePublisher(options: options, logger: logger)
        defer { publisher.close() }
        try publisher.publish([Publication(.deliver, job)])
        return job
    }
}
