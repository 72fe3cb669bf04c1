import Domain
import Foundation

/// How a series whose folder is not named after its type gets one: the first rule whose regular expression
/// matches the SeriesDescription (case-insensitive) wins. Loadable from JSON: `[{"type":"FLAIR","pattern":"flair"}]`.
public struct SeriesDescriptionRules: Codable, Sendable, Equatable {
    public struct Rule: Codable, Sendable, Equatable {
        public var type: MRIType
        public var pattern: String
        public init(type: MRIType, pattern: String) {
            self.type = type
            self.pattern = pattern
        }
    }

    public var rules: [Rule]

    public init(rules: [Rule]) { self.rules = rules }

    /// FLAIR before T2 ("T2 FLAIR" is FLAIR), contrast-enhanced T1 before plain T1.
    public static let standard = SeriesDescriptionRules(rules: [
        Rule(type: .flair, pattern: "flair"),
        Rule(type: .t1wCE, pattern: #"t1.*(\+ ?c|\bce\b|gd|gad|contrast|post)|(\+ ?c|\bce\b|gd|gad|contrast|post).*t1"#),
        Rule(type: .t1w, pattern: #"t1|mprage|spgr"#),
        Rule(type: .t2w, pattern: "t2"),
    ])

    /// Reads rules from a JSON file holding an array of {"type","pattern"}.
    public static func load(from url: URL) throws -> SeriesDescriptionRules {
        let rules = try JSONDecoder().decode([Rule].self, from: Data(contentsOf: url))
        for rule in rules { _ = try NSRegularExpression(pattern: rule.pattern, options: [.caseInsensitive]) }
        return SeriesDescriptionRules(rules: rules)
    }

    public func mriType(seriesDescription: String) -> MRIType? {
        let range = NSRange(seriesDescription.startIndex..., in: seriesDescription)
        for rule in rules {
            guard let regex = try? NSRegularExpression(pattern: rule.pattern, options: [.caseInsensitive]) else {
                continue
            }
            if regex.firstMatch(in: seriesDescription, range: range) != nil { return rule.type }
        }
        return nil
    }
}
