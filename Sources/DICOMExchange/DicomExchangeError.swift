// Failures of the DICOM network services and derived-object writers, with the shim's message.
import CDicomExchange
import Foundation

public enum DicomExchangeError: Error, Equatable, Sendable, CustomStringConvertible {
    case invalidArgument(String)
    /// Cannot listen or connect, or the association broke: worth retrying.
    case network(String)
    /// The peer rejected the association, declined the SOP class or answered with a failure status.
    case refused(String)
    case io(String)
    case encode(String)
    case internalError(String)

    public var description: String {
        switch self {
        case .invalidArgument(let m), .network(let m), .refused(let m), .io(let m), .encode(let m), .internalError(let m): m
        }
    }

    /// Whether trying again later may succeed (the peer was unreachable or broke the association).
    public var isTransient: Bool {
        if case .network = self { return true }
        return false
    }

    init(_ error: mgmt_exchange_error) {
        let message = withUnsafeBytes(of: error.message) { String(decoding: $0.prefix { $0 != 0 }, as: UTF8.self) }
        switch error.status {
        case MGMT_EXCHANGE_INVALID_ARGUMENT: self = .invalidArgument(message)
        case MGMT_EXCHANGE_NETWORK: self = .network(message)
        case MGMT_EXCHANGE_REFUSED: self = .refused(message)
        case MGMT_EXCHANGE_IO: self = .io(message)
        case MGMT_EXCHANGE_ENCODE: self = .encode(message)
        default: self = .internalError(message)
        }
    }
}

/// Calls a shim function with C strings for `strings` kept alive for the call.
func withCStrings<R>(_ strings: [String], _ body: ([UnsafePointer<CChar>?]) throws -> R) rethrows -> R {
    let pointers = strings.map { strdup($0) }
    defer { pointers.forEach { free($0) } }
    return try body(pointers.map { UnsafePointer($0) })
}
