/// Patient identifiers as the challenge writes them: `BraTS21ID` is a number that files write zero-padded
/// ("00012") or not ("12"). Both sides of a join go through `PatientKey` so that the two spellings meet.
public struct PatientKey: Hashable, Comparable, Sendable, Codable, CustomStringConvertible {
    public let value: String

    /// All-digit identifiers lose their leading zeros ("00012" → "12", "000" → "0"); any other identifier is
    /// kept as written, without surrounding whitespace.
    public init(_ raw: some StringProtocol) {
        let trimmed = raw.trimmingWhitespace()
        if !trimmed.isEmpty, trimmed.unicodeScalars.allSatisfy({ ("0"..."9").contains($0) }) {
            let stripped = trimmed.drop { $0 == "0" }
            value = stripped.isEmpty ? "0" : String(stripped)
        } else {
            value = trimmed
        }
    }

    public var description: String { value }
    public static func < (a: PatientKey, b: PatientKey) -> Bool {
        // Numeric identifiers in numeric order, then the rest by text.
        switch (Int(a.value), Int(b.value)) {
        case let (x?, y?): return x < y
        case (.some, nil): return true
        case (nil, .some): return false
        case (nil, nil): return a.value < b.value
        }
    }
    public init(from decoder: Decoder) throws { self.init(try decoder.singleValueContainer().decode(String.self)) }
    public func encode(to encoder: Encoder) throws {
        var container = encoder.singleValueContainer()
        try container.encode(value)
    }
}

/// Ground truth in the challenge's `train_labels.csv` format: a header `BraTS21ID,MGMT_value`, then one line per
/// patient with 0 (unmethylated) or 1 (methylated).
public struct Labels: Sendable, Equatable {
    public let methylated: [PatientKey: Bool]

    public init(methylated: [PatientKey: Bool]) { self.methylated = methylated }

    public init(csv text: String) throws {
        var lines = text.split(omittingEmptySubsequences: false, whereSeparator: { $0 == "\n" || $0 == "\r\n" })
            .map { $0.hasSuffix("\r") ? $0.dropLast() : $0 }
        while let last = lines.last, last.trimmingWhitespace().isEmpty { lines.removeLast() }
        guard let header = lines.first else { throw EvaluationError.emptyLabels }
        let columns = header.split(separator: ",").map { $0.trimmingWhitespace().trimmingPrefix("\u{FEFF}") }
        guard let idColumn = columns.firstIndex(of: "BraTS21ID"), let valueColumn = columns.firstIndex(of: "MGMT_value")
        else { throw EvaluationError.badLabelHeader(String(header)) }
        var methylated: [PatientKey: Bool] = [:]
        for (offset, line) in lines.enumerated().dropFirst() where !line.trimmingWhitespace().isEmpty {
            let fields = line.split(separator: ",", omittingEmptySubsequences: false)
            let lineNumber = offset + 1
            guard fields.count == columns.count else {
                throw EvaluationError.badLabelLine(line: lineNumber, reason: "\(fields.count) fields, the header has \(columns.count)")
            }
            let key = PatientKey(fields[idColumn])
            guard !key.value.isEmpty else { throw EvaluationError.badLabelLine(line: lineNumber, reason: "empty BraTS21ID") }
            let isMethylated: Bool
            switch fields[valueColumn].trimmingWhitespace() {
            case "1", "1.0": isMethylated = true
            case "0", "0.0": isMethylated = false
            case let other: throw EvaluationError.badLabelLine(line: lineNumber, reason: "MGMT_value \"\(other)\" is not 0 or 1")
            }
            if let earlier = methylated[key], earlier != isMethylated {
                throw EvaluationError.badLabelLine(line: lineNumber, reason: "patient \(key) is labelled both 0 and 1")
            }
            methylated[key] = isMethylated
        }
        guard !methylated.isEmpty else { throw EvaluationError.emptyLabels }
        self.methylated = methylated
    }
}

public enum EvaluationError: Error, Equatable, CustomStringConvertible {
    case emptyLabels
    case badLabelHeader(String)
    case badLabelLine(line: Int, reason: String)
    case duplicatePrediction(PatientKey, group: String)
    case probabilityOutOfRange(PatientKey, Double)

    public var description: String {
        switch self {
        case .emptyLabels: return "the labels file has no labelled patient"
        case .badLabelHeader(let header): return "the labels header \"\(header)\" lacks BraTS21ID and MGMT_value"
        case .badLabelLine(let line, let reason): return "labels line \(line): \(reason)"
        case .duplicatePrediction(let key, let group): return "two \(group) predictions for patient \(key)"
        case .probabilityOutOfRange(let key, let p): return "patient \(key): probability \(p) is not in [0, 1]"
        }
    }
}

extension StringProtocol {
    func trimmingWhitespace() -> String {
        String(drop(while: { $0.isWhitespace }).reversed().drop(while: { $0.isWhitespace }).reversed())
    }
}
