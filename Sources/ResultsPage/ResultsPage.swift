import Evaluation
import Hummingbird
import Logging
import Pictures

/// `reporter serve`: the results as plain server-rendered HTML (no scripts), read-only.
///
/// Routes: `/` (patients, studies in flight, recent failures, the evaluations when labels are loaded),
/// `/patients/ID` (per-type detail and previews), `/series/UID/preview.png`, `/evaluation/SOURCE/roc.png` (SOURCE:
/// `nfnet-lstm`, `resnet3d` or `mean`).
/// Identifiers in a path are checked before anything is read: a malformed one is 400, an unknown one 404, and a
/// database that cannot be read is 503 — never a 500 with a query error.
public enum ResultsPage {
    /// Patient IDs and series UIDs as the fleet records them: letters, digits, `.`, `-`, `_`, at most 64 bytes
    /// (DICOM's LO and UI lengths).
    public static func validIdentifier(_ raw: String) -> String? {
        guard let decoded = raw.removingPercentEncodingStrictly(), !decoded.isEmpty, decoded.utf8.count <= 64,
              decoded.unicodeScalars.allSatisfy({ ("a"..."z").contains($0) || ("A"..."Z").contains($0)
                  || ("0"..."9").contains($0) || $0 == "." || $0 == "-" || $0 == "_" })
        else { return nil }
        return decoded
    }

    public static func rocPlot(_ report: EvaluationReport) -> ROCPlot {
        ROCPlot(curves: ([report.patient] + report.perType).map { .init(name: $0.group, points: $0.metrics.rocCurve) })
    }

    public static func router(source: some ResultsSource, logger: Logger) -> Router<BasicRequestContext> {
        let router = Router()
        router.get("/") { _, _ in
            try await guarded(logger) { html(HTML.overviewPage(try await source.overview())) }
        }
        router.get("/patients/:id") { _, context in
            try await guarded(logger) {
                guard let id = validIdentifier(context.parameters.get("id") ?? "") else {
                    return errorResponse(.badRequest, "not a patient identifier")
                }
                guard let detail = try await source.patient(id) else { return errorResponse(.notFound, "no such patient") }
                return html(HTML.patientPage(detail))
            }
        }
        router.get("/series/:uid/preview.png") { _, context in
            try await guarded(logger) {
                guard let uid = validIdentifier(context.parameters.get("uid") ?? "") else {
                    return errorResponse(.badRequest, "not a series UID")
                }
                guard let png = try await source.preview(seriesUID: uid) else {
                    return errorResponse(.notFound, "no preview for this series")
                }
                return Response(status: .ok, headers: [.contentType: "image/png", .cacheControl: "no-cache"],
                                body: .init(byteBuffer: ByteBuffer(bytes: png)))
            }
        }
        router.get("/evaluation/:source/roc.png") { _, context in
            try await guarded(logger) {
                let name = context.parameters.get("source") ?? ""
                guard let report = try await source.evaluations().first(where: { $0.predictionSource == name }) else {
                    return errorResponse(.notFound, "no evaluation of these predictions (labels loaded? results of this model?)")
                }
                let png = try PNG.encode(rocPlot(report).render())
                return Response(status: .ok, headers: [.contentType: "image/png", .cacheControl: "no-cache"],
                                body: .init(byteBuffer: ByteBuffer(bytes: png)))
            }
        }
        return router
    }

    /// Serves until the task is cancelled or SIGTERM/SIGINT; `onListening` gets the bound port (useful with port 0).
    public static func serve(source: some ResultsSource, host: String, port: Int, logger: Logger,
                             onListening: @escaping @Sendable (Int) async -> Void = { _ in }) async throws {
        let application = Application(
            router: router(source: source, logger: logger),
            configuration: .init(address: .hostname(host, port: port), serverName: "mgmt-results"),
            onServerRunning: { channel in await onListening(channel.localAddress?.port ?? port) },
            logger: logger)
        try await application.runService()
    }

    private static func html(_ page: String) -> Response {
        Response(status: .ok, headers: [.contentType: "text/html; charset=utf-8"], body: .init(byteBuffer: ByteBuffer(string: page)))
    }

    private static func errorResponse(_ status: HTTPResponse.Status, _ message: String) -> Response {
        Response(status: status, headers: [.contentType: "text/html; charset=utf-8"],
                 body: .init(byteBuffer: ByteBuffer(string: HTML.errorPage(status: status.code, message: message))))
    }

    /// A source that fails (database down, a query error) answers 503 with a generic message; the detail goes to
    /// the log, not to the page.
    private static func guarded(_ logger: Logger, _ body: () async throws -> Response) async throws -> Response {
        do {
            return try await body()
        } catch {
            logger.error("results page could not read the results", metadata: ["error": "\(error)"])
            return errorResponse(.serviceUnavailable, "the results database cannot be read right now")
        }
    }
}

extension String {
    /// Percent-decoding that rejects malformed escapes and decoded bytes that are not UTF-8.
    func removingPercentEncodingStrictly() -> String? {
        var bytes: [UInt8] = []
        var iterator = utf8.makeIterator()
        while let byte = iterator.next() {
            guard byte == UInt8(ascii: "%") else { bytes.append(byte); continue }
            guard let high = iterator.next().flatMap(Self.hexValue), let low = iterator.next().flatMap(Self.hexValue) else {
                return nil
            }
            bytes.append(high << 4 | low)
        }
        return String(validating: bytes, as: UTF8.self)
    }

    private static func hexValue(_ byte: UInt8) -> UInt8? {
        switch byte {
        case UInt8(ascii: "0")...UInt8(ascii: "9"): return byte - UInt8(ascii: "0")
        case UInt8(ascii: "a")...UInt8(ascii: "f"): return byte - UInt8(ascii: "a") + 10
        case UInt8(ascii: "A")...UInt8(ascii: "F"): return byte - UInt8(ascii: "A") + 10
        default: return nil
        }
    }
}
