import ArgumentParser
import Domain
import Fleet
import FleetReport
import Foundation
import Logging

@main
struct Reporter: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "reporter",
        abstract: "The only writer of the results database: records status events and dead letters in PostgreSQL; "
            + "evaluates against labels and serves the results page.",
        discussion: "Configuration comes from the MGMT_* environment variables (see the README).",
        subcommands: [Work.self, Export.self, Evaluate.self, LabelsCommand.self, Preview.self, Serve.self, Resend.self],
        defaultSubcommand: Work.self)

    struct Work: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Apply the schema migrations, then consume `report` and the dead-letter queues until SIGTERM.")

        func run() throws {
            let configuration = try FleetConfiguration()
            WorkerProcess.bootstrapLogging(level: configuration.logLevel)
            let logger = Logger(label: "reporter")
            let stage = ReporterStage(conninfo: try configuration.requirePostgresConninfo(),
                                      schema: configuration.postgresSchema, queues: configuration.queues,
                                      logger: logger)
            try stage.prepare()
            try WorkerProcess.run(stage, configuration: configuration, logger: logger)
        }
    }

    struct Export: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Print the patient predictions in the reference's submission format (BraTS21ID,MGMT_value).")

        @Flag(name: .long, help: "CSV on standard output (the only format).")
        var csv = false

        @Option(name: .long, help: "Value for patients without a probability (default: left empty).")
        var fillMissing: Double?

        @Option(name: .long, help: "Whose predictions: nfnet-lstm (the 2D model), resnet3d (the 3D model) or mean (of the models).")
        var model: PredictionSource = .model(.nfnetLSTM)

        func run() throws {
            let configuration = try FleetConfiguration()
            WorkerProcess.bootstrapLogging(level: configuration.logLevel)
            let rows = try SubmissionExport.rows(conninfo: try configuration.requirePostgresConninfo(),
                                                 schema: configuration.postgresSchema, from: model)
            print(SubmissionExport.csv(rows, fillMissing: fillMissing), terminator: "")
            let missing = rows.filter { $0.probability == nil }
            if !missing.isEmpty, fillMissing == nil {
                FileHandle.standardError.write(Data(
                    "reporter export: \(missing.count) patient(s) without a probability left empty (see patient_predictions.reason)\n".utf8))
            }
        }
    }
}

/// `reporter resend STUDY_INSTANCE_UID`: the study's DICOM objects again, to the DICOM edge's destination.
struct Resend: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Publish a done study's deliver job again (after the PACS was down): its SEG and SR are written "
            + "and sent once more; dicom_outputs records the outcome.")

    @Argument(help: "StudyInstanceUID.")
    var study: String

    func run() throws {
        let configuration = try FleetConfiguration()
        WorkerProcess.bootstrapLogging(level: configuration.logLevel)
        let job = try DeliveryResend.publish(
            studyInstanceUid: study, conninfo: try configuration.requirePostgresConninfo(),
            schema: configuration.postgresSchema, options: try WorkerOptions(configuration: configuration),
            logger: Logger(label: "reporter.resend"))
        print("deliver job \(job.jobId) published for study \(study) (\(job.series.count) series)")
    }
}
