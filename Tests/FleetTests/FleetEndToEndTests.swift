import Broker
import Fleet
import Foundation
import ResultsStore
import XCTest

/// Generated studies through the four executables as separate processes on the real servers, with seeded weights
/// of the full architectures. Small studies (few, small slices) keep the models' share of CI time low.
final class FleetEndToEndTests: XCTestCase {
    static let fixtures = Fixtures()
    private var cluster: FleetCluster?

    override func tearDown() {
        cluster?.stopAll()
    }

    /// The weights (hundreds of MB) and studies go once every test of the class has run.
    override class func tearDown() {
        try? FileManager.default.removeItem(at: fixtures.root)
    }

    /// Weights and studies made once for the whole class (a temporary directory removed at exit).
    final class Fixtures: @unchecked Sendable {
        let root = FileManager.default.temporaryDirectory.appendingPathComponent("mgmt-e2e-\(UUID().uuidString)")
        private let lock = NSLock()
        private var models: URL?
        private var offline: [String: OfflineResult] = [:]
        private var withoutT2wClassifier: URL?

        func modelDirectory() throws -> URL {
            try lock.withLock {
                if let models { return models }
                let directory = root.appendingPathComponent("models")
                try run("cls-worker", ["demo-weights", directory.path, "--types", "FLAIR,T2w"])
                models = directory
                return directory
            }
        }

        /// The demo model directory without `classifier-T2w.safetensors` (links to the other files).
        func modelDirectoryWithoutT2wClassifier() throws -> URL {
            let full = try modelDirectory()
            return try lock.withLock {
                if let withoutT2wClassifier { return withoutT2wClassifier }
                let directory = root.appendingPathComponent("models-without-T2w")
                try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
                for file in try FileManager.default.contentsOfDirectory(atPath: full.path)
                where file != "classifier-T2w.safetensors" {
                    try FileManager.default.createSymbolicLink(at: directory.appendingPathComponent(file),
                                                               withDestinationURL: full.appendingPathComponent(file))
                }
                withoutT2wClassifier = directory
                return directory
            }
        }

        /// An export folder with the given patients (FLAIR + T2w, `slices` slices of 64×64).
        func export(_ name: String, patients: [String], slices: Int = 10) throws -> URL {
            let export = root.appendingPathComponent("exports/\(name)")
            if FileManager.default.fileExists(atPath: export.path) { return export }
            for (index, patient) in patients.enumerated() {
                try SampleStudies.make(into: export, patient: patient, slices: slices, size: 64, series: "FLAIR,T2w",
                                       seed: 11 + index)
            }
            return export
        }

        /// What the offline commands print for a study: `ingest run`, `seg-worker run`, `cls-worker run --json`.
        func offlineResult(study: URL, models: URL? = nil) throws -> OfflineResult {
            let models = try models ?? modelDirectory()
            let cacheKey = study.path + "|" + models.path
            if let cached = lock.withLock({ offline[cacheKey] }) { return cached }
            let directory = root.appendingPathComponent("offline/\(study.lastPathComponent)-\(UUID().uuidString)")
            try run("ingest", ["run", study.path, "--out", directory.path])
            try run("seg-worker", ["run", directory.path, "--models", models.path, "--threads", "2"])
            let json = try run("cls-worker", ["run", directory.path, "--models", models.path, "--threads", "2", "--json"])
            let result = try JSONDecoder().decode(OfflineResult.self, from: Data(json.utf8))
            lock.withLock { offline[cacheKey] = result }
            return result
        }

        @discardableResult
        private func run(_ executable: String, _ arguments: [String]) throws -> String {
            let process = Process()
            process.executableURL = FleetCluster.binDirectory.appendingPathComponent(executable)
            process.arguments = arguments
            let output = Pipe()
            let errors = FileManager.default.temporaryDirectory.appendingPathComponent("stderr-\(UUID().uuidString)")
            _ = FileManager.default.createFile(atPath: errors.path, contents: nil)
            defer { try? FileManager.default.removeItem(at: errors) }
            process.standardOutput = output
            process.standardError = try FileHandle(forWritingTo: errors)
            try process.run()
            let text = String(decoding: output.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
            process.waitUntilExit()
            guard process.terminationStatus == 0 else {
                let stderr = (try? String(contentsOf: errors, encoding: .utf8)) ?? ""
                throw TestSetupError(message: "\(executable) \(arguments.joined(separator: " ")) failed: \(stderr)")
            }
            return text
        }
    }

    /// The fields of `cls-worker run --json` the comparison needs.
    struct OfflineResult: Decodable {
        struct Series: Decodable {
            struct Chunk: Decodable {
                let index: Int
                let probability: Double
            }
            let mriType: String
            let chunks: [Chunk]
            let weightsSha256: String?
            let status: String
            let reason: String?
            enum CodingKeys: String, CodingKey {
                case mriType = "mri_type", chunks, weightsSha256 = "weights_sha256", status, reason
            }
        }
        let patientId: String
        let probability: Double?
        let series: [Series]
        enum CodingKeys: String, CodingKey { case patientId = "patient_id", probability, series }
    }

    func startFleet(segWorkers: Int = 1, models: URL? = nil, extra: [String: String] = [:]) throws -> FleetCluster {
        let cluster = try FleetCluster(models: try models ?? Self.fixtures.modelDirectory(), extra: extra)
        self.cluster = cluster
        try cluster.start("reporter", name: "reporter")
        try cluster.start("ingest", name: "ingest")
        for index in 0..<segWorkers { try cluster.start("seg-worker", name: "seg-\(index + 1)") }
        try cluster.start("cls-worker", name: "cls")
        return cluster
    }

    func doneStudies(_ tables: ResultsTables) throws -> Int {
        try tables.connection.execute("SELECT count(*) AS n FROM studies WHERE status = 'done'").rows[0].int("n")
    }

    /// The database's rows for a patient against the offline run of the same study with the same weights.
    func assertRowsMatchOffline(_ tables: ResultsTables, patient: String, study: URL, models: URL? = nil,
                                        file: StaticString = #filePath, line: UInt = #line) throws {
        let offline = try Self.fixtures.offlineResult(study: study, models: models)
        let chunks = try tables.chunkPredictions(patientId: patient)
        for series in offline.series {
            let stored = chunks.filter { $0.mriType == series.mriType }
            XCTAssertEqual(stored.map(\.chunk.index), series.chunks.map(\.index), "\(series.mriType) chunks", file: file, line: line)
            for (row, expected) in zip(stored, series.chunks) {
                XCTAssertEqual(row.chunk.probability, expected.probability, accuracy: 1e-12, file: file, line: line)
                XCTAssertEqual(row.weightsSha256, series.weightsSha256, file: file, line: line)
            }
        }
        XCTAssertEqual(chunks.count, offline.series.map(\.chunks.count).reduce(0, +), "exactly once", file: file, line: line)
        let prediction = try XCTUnwrap(try tables.patientPredictions().first { $0.patientId == patient }, file: file, line: line)
        switch (prediction.probability, offline.probability) {
        case let (stored?, expected?): XCTAssertEqual(stored, expected, accuracy: 1e-12, file: file, line: line)
        case (nil, nil): XCTAssertNotNil(prediction.reason, file: file, line: line)
        default: XCTFail("patient probability \(String(describing: prediction.probability)) vs offline \(String(describing: offline.probability))", file: file, line: line)
        }
    }

    func testStudyThroughTheFourExecutablesEqualsTheOfflineRun() throws {
        let export = try Self.fixtures.export("single", patients: ["00500"])
        let cluster = try startFleet()
        let enqueue = try cluster.runToCompletion("ingest", ["enqueue", export.path])
        XCTAssertEqual(enqueue.status, 0, enqueue.output)
        XCTAssertTrue(enqueue.output.contains("enqueued 1 study"), enqueue.output)
        let tables = try cluster.tables()
        _ = try cluster.waitForRows(timeout: 240, doneStudies, until: { $0 == 1 })
        try assertRowsMatchOffline(tables, patient: "00500", study: export.appendingPathComponent("00500"))
        XCTAssertEqual(try tables.seriesStates(studyInstanceUid: try studyUID(tables)).map(\.status),
                       ["classified", "classified"])
        XCTAssertEqual(try tables.failures(), [])
        let offline = try Self.fixtures.offlineResult(study: export.appendingPathComponent("00500"))
        XCTAssertGreaterThan(offline.series.map(\.chunks.count).reduce(0, +), 0, "the sample study must produce chunks")
        // Every worker stops cleanly on SIGTERM.
        for name in ["ingest", "seg-1", "cls", "reporter"] {
            XCTAssertEqual(cluster.terminate(name), 0, "\(name) exit status")
        }
    }

    /// A type without a classifier file: offline and in the fleet the series is skipped with the reason (a
    /// prediction row without chunks, no failure row) and the study completes on the other type.
    func testTypeWithoutAClassifierIsSkippedWithTheReasonOfflineAndInTheFleet() throws {
        let export = try Self.fixtures.export("single", patients: ["00500"])
        let models = try Self.fixtures.modelDirectoryWithoutT2wClassifier()
        let cluster = try startFleet(models: models)
        XCTAssertEqual(try cluster.runToCompletion("ingest", ["enqueue", export.path]).status, 0)
        let tables = try cluster.tables()
        _ = try cluster.waitForRows(timeout: 240, doneStudies, until: { $0 == 1 })
        XCTAssertEqual(try tables.failures(), [], "a missing classifier is no failure")
        let reason = "no classifier-T2w.safetensors in the model directory"
        let offline = try Self.fixtures.offlineResult(study: export.appendingPathComponent("00500"), models: models)
        let offlineT2w = try XCTUnwrap(offline.series.first { $0.mriType == "T2w" })
        XCTAssertEqual(offlineT2w.status, "skipped")
        XCTAssertEqual(offlineT2w.reason, reason)
        let rows = try tables.connection.execute(
            "SELECT probability, n_chunks, reason FROM series_predictions WHERE mri_type = 'T2w'").rows
        XCTAssertEqual(rows.count, 1)
        XCTAssertTrue(try rows[0].isNull("probability"))
        XCTAssertEqual(try rows[0].int("n_chunks"), 0)
        XCTAssertEqual(try rows[0].text("reason"), reason)
        XCTAssertEqual(try tables.seriesStates(studyInstanceUid: try studyUID(tables)).map(\.status),
                       ["classified", "classified"])
        try assertRowsMatchOffline(tables, patient: "00500", study: export.appendingPathComponent("00500"), models: models)
    }

    func testKilledSegWorkerJobIsFinishedByAnotherReplicaExactlyOnce() throws {
        let export = try Self.fixtures.export("long", patients: ["00600"], slices: 24)
        let cluster = try startFleet(segWorkers: 0)
        let victim = try cluster.start("seg-worker", name: "seg-victim")
        XCTAssertEqual(try cluster.runToCompletion("ingest", ["enqueue", export.path]).status, 0)
        try waitUntil(timeout: 120) { cluster.log(of: victim).contains("job started") }
        Thread.sleep(forTimeInterval: 0.5)  // well inside the model run
        XCTAssertFalse(cluster.log(of: victim).contains("job finished"), "the kill must land mid-job")
        cluster.kill9(victim)
        let rescuer = try cluster.start("seg-worker", name: "seg-rescuer")
        let tables = try cluster.tables()
        _ = try cluster.waitForRows(timeout: 300, doneStudies, until: { $0 == 1 })
        XCTAssertTrue(cluster.log(of: rescuer).contains("redelivered=true"), "the killed job was redelivered")
        try assertRowsMatchOffline(tables, patient: "00600", study: export.appendingPathComponent("00600"))
        XCTAssertEqual(try tables.failures(), [])
        let broker = try cluster.broker()
        defer { broker.close() }
        XCTAssertEqual(try broker.messageCount(queue: QueueNames.deadLetter(of: cluster.queues.segment)), 0)
    }

    func testSigtermFinishesTheCurrentJobThenExitsZero() throws {
        let export = try Self.fixtures.export("single", patients: ["00500"])
        let cluster = try startFleet(segWorkers: 0)
        let worker = try cluster.start("seg-worker", name: "seg-stopping")
        XCTAssertEqual(try cluster.runToCompletion("ingest", ["enqueue", export.path]).status, 0)
        try waitUntil(timeout: 120) { cluster.log(of: worker).contains("job started") }
        XCTAssertEqual(cluster.terminate(worker, timeout: 60), 0, "exit status after SIGTERM")
        let log = cluster.log(of: worker)
        let stop = try XCTUnwrap(log.range(of: "stop requested"))
        XCTAssertNotNil(log.range(of: "job finished", range: stop.upperBound..<log.endIndex), "the current job was finished")
        XCTAssertEqual(log.components(separatedBy: "job started").count - 1, 1, "no new job after SIGTERM")
        // The finished job was acked (its series is segmented); the other series waits for the next replica.
        let tables = try cluster.tables()
        let states = try cluster.waitForRows(timeout: 60, { try $0.seriesStates(studyInstanceUid: try self.studyUID($0)) },
                                             until: { $0.contains { $0.status != "ingested" } })
        XCTAssertEqual(states.filter { $0.status == "ingested" }.count, 1)
        try cluster.start("seg-worker", name: "seg-next")
        _ = try cluster.waitForRows(timeout: 240, doneStudies, until: { $0 == 1 })
        try assertRowsMatchOffline(tables, patient: "00500", study: export.appendingPathComponent("00500"))
    }

    func testDuplicateDeliveriesLeaveOneSetOfRowsAndTwoReplicasShareTheQueue() throws {
        let export = try Self.fixtures.export("pair", patients: ["00701", "00702"], slices: 8)
        let cluster = try startFleet(segWorkers: 2)
        XCTAssertEqual(try cluster.runToCompletion("ingest", ["enqueue", export.path]).status, 0)
        let tables = try cluster.tables()
        _ = try cluster.waitForRows(timeout: 300, doneStudies, until: { $0 == 2 })
        let first = try tables.rowCounts()
        let firstPredictions = try tables.patientPredictions()
        // Every message of both studies again: the same job ids all the way down.
        XCTAssertEqual(try cluster.runToCompletion("ingest", ["enqueue", export.path]).status, 0)
        try waitUntil(timeout: 300) {
            cluster.log(of: "cls").components(separatedBy: "job finished").count - 1 == 8
        }
        let broker = try cluster.broker()
        defer { broker.close() }
        try waitUntil(timeout: 60) { (try? broker.messageCount(queue: cluster.queues.report)) == 0 }
        Thread.sleep(forTimeInterval: 1)
        XCTAssertEqual(try tables.rowCounts(), first, "one set of rows")
        XCTAssertEqual(try tables.patientPredictions().map(\.probability), firstPredictions.map(\.probability))
        for patient in ["00701", "00702"] {
            try assertRowsMatchOffline(tables, patient: patient, study: export.appendingPathComponent(patient))
        }
        for replica in ["seg-1", "seg-2"] {
            let jobs = cluster.log(of: replica).components(separatedBy: "job finished").count - 1
            XCTAssertGreaterThan(jobs, 0, "\(replica) received no job")
        }
    }

    private func studyUID(_ tables: ResultsTables) throws -> String {
        try tables.connection.execute("SELECT study_instance_uid FROM studies").rows[0].string("study_instance_uid")
    }
}
