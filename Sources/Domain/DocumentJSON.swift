import Foundation

/// The JSON style of every document the stages write (`study.json`, `series.json`, `segmentation.json`,
/// `classification.json`, the patient document): snake-case keys from camel-case properties, sorted, indented.
public enum DocumentJSON {
    public static var encoder: JSONEncoder {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
        encoder.keyEncodingStrategy = .convertToSnakeCase
        return encoder
    }

    public static var decoder: JSONDecoder {
        let decoder = JSONDecoder()
        decoder.keyDecodingStrategy = .convertFromSnakeCase
        return decoder
    }
}
