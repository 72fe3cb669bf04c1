import ArgumentParser
import Domain
import Evaluation
import Fleet
import Foundation
import Logging
import Pictures
import ResultsPage
import ResultsReader
import ResultsStore

/// The results database and artifact store the commands below read, from the MGMT_* environment.
struct ResultsAccess {
    let configuration: FleetConfiguration
    let database: ResultsDatabase

    init() throws {
        configuration = try FleetConfiguration()
        WorkerProcess.bootstrapLogging(level: configuration.logLevel)
        database = ResultsDatabase(conninfo: try configuration.requirePostgresConninfo(), schema: configuration.postgresSchema)
    }

    /// Applies pending migrations (the labels table and views arrive with one).
    func migrate() throws {
        let connection = try PostgresConnection(conninfo: database.conninfo)
        try ResultsSchema.migrate(connection, schema: database.schema, logger: Logger(label: "reporter"))
    }

    func pageSource() throws -> PageSource {
        let store = try ArtifactStore(root: configuration.storeRoot)
        return PageSource(database: database) { key, sha256 in
            [UInt8](try store.read(ArtifactRef(key: key, sha256: sha256)))
        }
    }
}

struct Evaluate: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "AUROC (95 % CI by DeLong), accuracy, sensitivity and specificity at 0.5 against labels, per patient "
            + "and per MRI type; lists labelled patients without a prediction and predictions without a label.")

    @Option(name: .long, help: "Labels in the challenge format (BraTS21ID,MGMT_value); default: the loaded labels table.")
    var labels: String?

    @Option(name: .long, help: "Whose predictions: nfnet-lstm (the 2D model), resnet3d (the 3D model) or mean (of the models).")
    var model: PredictionSource = .model(.nfnetLSTM)

    @Flag(name: .long, help: "JSON instead of the text table.")
    var json = false

    @Option(name: .long, help: "Also draw the ROC curves into this PNG file.")
    var plot: String?

    func run() throws {
        let access = try ResultsAccess()
        let truth: Labels
        if let labels {
            truth = try Labels(csv: String(decoding: try Data(contentsOf: URL(fileURLWithPath: labels)), as: UTF8.self))
        } else {
            try access.migrate()
            guard let loaded = try access.database.loadedLabels() else {
                throw ValidationError("no labels loaded: pass --labels FILE or run `reporter labels load FILE`")
            }
            truth = loaded
        }
        let report = try access.database.evaluate(truth, from: model)
        if json {
            let encoder = JSONEncoder()
            encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
            print(String(decoding: try encoder.encode(report), as: UTF8.self))
        } else {
            print(report.textTable, terminator: "")
        }
        if let plot {
            let picture = ResultsPage.rocPlot(report)
            try Data(try PNG.encode(picture.render())).write(to: URL(fileURLWithPath: plot))
            let legend = picture.legend.map { "\($0.name) \($0.color)" }.joined(separator: ", ")
            FileHandle.standardError.write(Data("reporter evaluate: ROC curves in \(plot) (\(legend))\n".utf8))
        }
    }
}

extension PredictionSource: ExpressibleByArgument {
    public init?(argument: String) { self.init(name: argument) }
    public static var allValueStrings: [String] { allCases.map(\.description) }
}

struct LabelsCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "labels", abstract: "The labels table behind the label_evaluation view.", subcommands: [Load.self])

    struct Load: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Replace the labels table with a challenge-format file; then `SELECT * FROM label_evaluation`.")

        @Argument(help: "Labels file (BraTS21ID,MGMT_value).")
        var file: String

        func run() throws {
            let access = try ResultsAccess()
            let labels = try Labels(csv: String(decoding: try Data(contentsOf: URL(fileURLWithPath: file)), as: UTF8.self))
            try access.migrate()
            try access.database.loadLabels(labels, from: URL(fileURLWithPath: file).lastPathComponent)
            print("loaded \(labels.methylated.count) labels; query them with: SELECT * FROM label_evaluation")
        }
    }
}

struct Preview: AsyncParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Write a series' preview PNG (from the artifact store) to a file.")

    @Argument(help: "SeriesInstanceUID.")
    var series: String

    @Option(name: .long, help: "Output PNG file.")
    var out: String

    func run() async throws {
        guard let uid = ResultsPage.validIdentifier(series) else { throw ValidationError("not a series UID: \(series)") }
        guard let png = try await ResultsAccess().pageSource().preview(seriesUID: uid) else {
            throw ValidationError("series \(uid) has no preview")
        }
        try Data(png).write(to: URL(fileURLWithPath: out))
    }
}

struct Serve: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "The read-only results page on MGMT_RESULTS_HOST:MGMT_RESULTS_PORT (default 127.0.0.1:8080) until SIGTERM.")

    func run() async throws {
        let access = try ResultsAccess()
        try access.migrate()
        let logger = Logger(label: "reporter.serve")
        let host = access.configuration.resultsHost
        try await ResultsPage.serve(source: try access.pageSource(), host: host, port: access.configuration.resultsPort,
                                    logger: logger) { port in
            logger.notice("results page listening", metadata: ["url": "http://\(host):\(port)/"])
        }
    }
}
