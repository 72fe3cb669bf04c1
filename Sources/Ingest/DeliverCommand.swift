import ArgumentParser
import Fleet
import FleetDeliver
import Logging

/// `ingest deliver`: the DICOM edge's output worker (consumes `deliver`; writes SEG and SR, stores and sends them).
struct DeliverCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "deliver",
        abstract: "Run the DICOM delivery worker until SIGTERM: a SEG per series and an SR per complete study, "
            + "stored and sent by C-STORE to MGMT_DICOM_DESTINATION.",
        discussion: """
            Configured from the environment: MGMT_DICOM_DESTINATION (AE@host:port; unset: objects are only stored), \
            MGMT_DICOM_AE (the calling AE title), MGMT_DICOM_SEND_ATTEMPTS (5), MGMT_DICOM_SEND_BACKOFF (2 s, \
            doubling) and MGMT_DICOM_SEND_BACKOFF_MAX (60 s), with the worker settings every worker reads.
            """)

    func run() throws {
        let configuration = try FleetConfiguration()
        WorkerProcess.bootstrapLogging(level: configuration.logLevel)
        let logger = Logger(label: "deliver")
        try WorkerProcess.run(DeliverStage(destination: try DicomDestination.configured(configuration)),
                              configuration: configuration, logger: logger)
    }
}
