import CLibPQ
import Foundation

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Checks a conninfo for mistakes no retry can fix, so that a process fails at start with one clear line
/// instead of reconnecting forever: unparseable text, an unknown `sslmode`, and files it names (CA, client
/// certificate and key, password file) that cannot be read.
public enum PostgresSettings {
    static let sslModes = ["disable", "allow", "prefer", "require", "verify-ca", "verify-full"]
    static let fileKeywords = ["sslrootcert", "sslcert", "sslkey", "passfile"]

    public static func check(conninfo: String) throws(PostgresError) {
        var parseError: UnsafeMutablePointer<CChar>?
        guard let options = PQconninfoParse(conninfo, &parseError) else {
            let reason = parseError.map { String(cString: $0) } ?? "out of memory"
            PQfreemem(parseError)
            throw invalid("cannot parse the conninfo: \(oneLine(reason))")
        }
        defer { PQconninfoFree(options) }
        var option = options
        while let keyword = option.pointee.keyword {
            if let rawValue = option.pointee.val {
                try check(String(cString: keyword), String(cString: rawValue))
            }
            option += 1
        }
    }

    private static func check(_ keyword: String, _ value: String) throws(PostgresError) {
        if keyword == "sslmode", !sslModes.contains(value) {
            throw invalid("sslmode=\(value) is not one of \(sslModes.joined(separator: ", "))")
        }
        if fileKeywords.contains(keyword), !value.isEmpty {
            let descriptor = open(value, O_RDONLY)
            guard descriptor >= 0 else {
                throw invalid("\(keyword)=\(value): cannot read it: \(String(cString: strerror(errno)))")
            }
            close(descriptor)
        }
    }

    private static func invalid(_ message: String) -> PostgresError {
        PostgresError(kind: .invalidConfiguration, message: message, role: "configuration")
    }
}
