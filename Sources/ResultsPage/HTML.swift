import Evaluation

/// Server-rendered pages: every value from the database goes through `escape` (text and attributes) and every
/// identifier in a link through `pathComponent`.
enum HTML {
    static func escape(_ text: String) -> String {
        var out = ""
        out.reserveCapacity(text.utf8.count)
        for character in text {
            switch character {
            case "&": out += "&amp;"
            case "<": out += "&lt;"
            case ">": out += "&gt;"
            case "\"": out += "&quot;"
            case "'": out += "&#39;"
            default: out.append(character)
            }
        }
        return out
    }

    /// An identifier as one URL path segment (unreserved characters kept, everything else percent-encoded).
    static func pathComponent(_ text: String) -> String {
        var out = ""
        for byte in text.utf8 {
            switch byte {
            case UInt8(ascii: "A")...UInt8(ascii: "Z"), UInt8(ascii: "a")...UInt8(ascii: "z"),
                 UInt8(ascii: "0")...UInt8(ascii: "9"), UInt8(ascii: "-"), UInt8(ascii: "."), UInt8(ascii: "_"), UInt8(ascii: "~"):
                out.append(Character(UnicodeScalar(byte)))
            default:
                let hex = String(byte, radix: 16, uppercase: true)
                out += "%" + (hex.count == 1 ? "0" + hex : hex)
            }
        }
        return out
    }

    static func probability(_ value: Double?) -> String { value.map { EvaluationReport.format($0) } ?? "–" }
    static func optional(_ value: Int?) -> String { value.map(String.init) ?? "–" }

    static func document(title: String, body: String) -> String {
        """
        <!DOCTYPE html>
        <html lang="en"><head><meta charset="utf-8"><title>\(escape(title))</title>
        <style>
        body { font-family: sans-serif; margin: 1.5em; color: #222; }
        table { border-collapse: collapse; margin-bottom: 1.5em; }
        th, td { border: 1px solid #ccc; padding: 0.25em 0.6em; text-align: left; vertical-align: top; }
        th { background: #eee; } td.num { text-align: right; font-variant-numeric: tabular-nums; }
        .note { color: #666; } img { border: 1px solid #999; max-width: 100%; }
        img.preview { image-rendering: pixelated; min-width: 360px; }
        .swatch { display: inline-block; width: 1em; height: 1em; vertical-align: middle; margin-right: 0.3em; }
        </style></head>
        <body>
        \(body)
        </body></html>

        """
    }

    static func table(_ header: [String], _ rows: [[String]], id: String) -> String {
        var html = "<table id=\"\(id)\"><thead><tr>" + header.map { "<th>\(escape($0))</th>" }.joined() + "</tr></thead><tbody>\n"
        for row in rows { html += "<tr>" + row.joined() + "</tr>\n" }
        return html + "</tbody></table>\n"
    }

    /// A cell whose content is already HTML.
    static func cell(html: String, numeric: Bool = false) -> String { numeric ? "<td class=\"num\">\(html)</td>" : "<td>\(html)</td>" }
    static func cell(_ text: String, numeric: Bool = false) -> String { cell(html: escape(text), numeric: numeric) }
    static func patientLink(_ id: String) -> String { "<a href=\"/patients/\(escape(pathComponent(id)))\">\(escape(id))</a>" }

    /// The 3D model's and the models' mean columns, in this order, where any patient has them.
    static let otherSourceColumns = ["resnet3d", "mean"]

    static func overviewPage(_ overview: ResultsOverview) -> String {
        let types = Set(overview.patients.flatMap(\.perType.keys)).sorted()
        let others = otherSourceColumns.filter { name in overview.patients.contains { $0.otherSources[name] != nil } }
        var body = "<h1>MGMT results</h1>\n"
        body += "<p class=\"note\">Research use only. Probabilities of MGMT promoter methylation per patient: the 2D "
            + "model's (nfnet-lstm), the mean over the MRI types that produced chunks, and its value per type"
            + (others.isEmpty ? "" : "; the 3D model's (resnet3d) and the mean of the models that have one") + ".</p>\n"
        body += "<h2>Patients (\(overview.patients.count))</h2>\n"
        body += table(["patient", "nfnet-lstm"] + others + types + ["types", "chunks", "reason", "computed"],
                      overview.patients.map { p in
                          [cell(html: patientLink(p.patientId)), cell(probability(p.probability), numeric: true)]
                              + others.map { cell(probability(p.otherSources[$0] ?? nil), numeric: true) }
                              + types.map { cell(probability(p.perType[$0] ?? nil), numeric: true) }
                              + [cell("\(p.typeCount)", numeric: true), cell("\(p.chunkCount)", numeric: true),
                                 cell(p.reason ?? ""), cell(p.computedAt)]
                      }, id: "patients")
        body += "<h2>Studies in flight (\(overview.studiesInFlight.count))</h2>\n"
        body += table(["study", "patient", "received", "series finished", "series stages"],
                      overview.studiesInFlight.map { s in
                          [cell(s.studyUID), cell(html: patientLink(s.patientId)), cell(s.receivedAt),
                           cell("\(s.seriesFinished) / \(s.seriesCount)", numeric: true), cell(s.seriesStages)]
                      }, id: "in-flight")
        body += "<h2>Recent failures (\(overview.recentFailures.count))</h2>\n"
        body += table(["last seen", "kind", "stage", "patient", "series", "reason"],
                      overview.recentFailures.map { f in
                          [cell(f.lastSeen), cell(f.kind), cell(f.stage), cell(html: f.patientId.map(patientLink) ?? ""),
                           cell(f.seriesUID ?? ""), cell(f.reason)]
                      }, id: "failures")
        body += "<h2>Evaluation against labels</h2>\n"
        if overview.evaluations.isEmpty {
            body += "<p class=\"note\">No labels loaded (<code>reporter labels load FILE</code>).</p>\n"
        }
        for evaluation in overview.evaluations {
            body += "<h3>Predictions: \(escape(evaluation.predictionSource))</h3>\n" + evaluationSection(evaluation)
        }
        return document(title: "MGMT results", body: body)
    }

    static func evaluationSection(_ report: EvaluationReport) -> String {
        let id = pathComponent(report.predictionSource)
        var html = "<p>AUROC 95 % CI: \(escape(report.intervalMethod)); methylated when probability ≥ "
            + "\(BinaryEvaluation.threshold). Labelled patients: \(report.labelledPatients).</p>\n"
        let cohorts = [report.patient] + report.perType
        html += table(["group", "n", "AUROC", "95 % CI", "accuracy", "sensitivity", "specificity",
                       "labelled, no prediction", "labelled, no probability", "predicted, no label"],
                      cohorts.map { c in
                          let m = c.metrics
                          return [cell(c.group), cell("\(m.count)", numeric: true), cell(probability(m.auroc), numeric: true),
                                  cell(m.aurocCI95.map { "\(probability($0.lower))–\(probability($0.upper))" } ?? "–"),
                                  cell(probability(m.accuracy), numeric: true), cell(probability(m.sensitivity), numeric: true),
                                  cell(probability(m.specificity), numeric: true),
                                  cell(c.labelledWithoutPrediction.map(\.value).joined(separator: " ")),
                                  cell(c.labelledWithoutProbability.map(\.value).joined(separator: " ")),
                                  cell(c.predictionsWithoutLabel.map(\.value).joined(separator: " "))]
                      }, id: "evaluation-\(id)")
        let legend = ResultsPage.rocPlot(report).legend
        html += "<p><img id=\"roc-\(id)\" src=\"/evaluation/\(id)/roc.png\" alt=\"ROC curves\" width=\"420\" height=\"420\"><br>"
            + legend.map { "<span class=\"swatch\" style=\"background:\($0.color)\"></span>\(escape($0.name))" }
            .joined(separator: " &nbsp; ") + "</p>\n"
        return html
    }

    static func patientPage(_ detail: PatientDetail) -> String {
        var body = "<p><a href=\"/\">← all patients</a></p>\n<h1>Patient \(escape(detail.patientId))</h1>\n"
        if let summary = detail.summary {
            body += "<p id=\"patient-probability\">Probability (nfnet-lstm) \(probability(summary.probability)) over "
                + "\(summary.typeCount) type(s), \(summary.chunkCount) chunk(s)" + (summary.reason.map { ": \(escape($0))" } ?? "")
                + otherSourceColumns.compactMap { name in
                    summary.otherSources[name].map { "; \(name == "mean" ? "mean of the models" : name) \(probability($0))" }
                }.joined() + ".</p>\n"
        } else {
            body += "<p class=\"note\">No patient result yet: the studies are in flight.</p>\n"
        }
        let volumes = detail.series.contains { $0.volume != nil }
        body += table(["MRI type", "series", "stage", "slices (total / kept / selected)", "nfnet-lstm", "chunk probabilities", "reason"]
                      + (volumes ? ["resnet3d stage", "resnet3d", "resnet3d reason"] : []),
                      detail.series.map { s in
                          [cell(s.mriType), cell(s.seriesUID), cell(s.status),
                           cell("\(optional(s.slicesTotal)) / \(optional(s.slicesKept)) / \(optional(s.slicesSelected))"),
                           cell(probability(s.probability), numeric: true),
                           cell(s.chunkProbabilities.map { probability($0) }.joined(separator: " ")), cell(s.reason ?? "")]
                              + (volumes ? [cell(s.volume?.status ?? "–"), cell(probability(s.volume?.probability), numeric: true),
                                            cell(s.volume?.reason ?? "")] : [])
                      }, id: "series")
        for series in detail.series where series.hasPreview {
            body += "<h2>\(escape(series.mriType)) preview</h2>\n<p class=\"note\">Green: whole tumour; red: enhancing "
                + "tumour; blue frame: a slice the classifier kept; bars: chunk probabilities (dashed line 0.5).</p>\n"
                + "<p><img class=\"preview\" src=\"/series/\(escape(pathComponent(series.seriesUID)))/preview.png\" "
                + "alt=\"\(escape(series.mriType)) preview\"></p>\n"
        }
        return document(title: "Patient \(detail.patientId)", body: body)
    }

    static func errorPage(status: Int, message: String) -> String {
        document(title: "\(status)", body: "<h1>\(status)</h1>\n<p>\(escape(message))</p>\n<p><a href=\"/\">results</a></p>")
    }
}
