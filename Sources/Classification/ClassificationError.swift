/// Why the classifier stage could not run on its input.
public enum ClassificationError: Error, CustomStringConvertible, Equatable {
    case sizeMismatch(what: String, expected: [Int], found: [Int])
    case countMismatch(what: String, expected: Int, found: Int)
    case unreadable(path: String, reason: String)
    case invalidInput(String)

    public var description: String {
        switch self {
        case let .sizeMismatch(what, expected, found):
            return "\(what): sizes differ, expected \(expected), found \(found)"
        case let .countMismatch(what, expected, found):
            return "\(what): expected \(expected), found \(found)"
        case let .unreadable(path, reason):
            return "cannot read \(path): \(reason)"
        case let .invalidInput(message):
            return message
        }
    }
}
