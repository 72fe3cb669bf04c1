import Foundation

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// The files an `amqps://` connection needs: the CA that signed the broker's certificate (the peer and its host
/// name are always verified) and, for brokers that ask for one, a client certificate with its key (PEM).
///
/// Every file is checked when the settings are made, so a configuration that can never work fails at start with
/// one line naming the variable and the file, instead of failing at each reconnect.
public struct BrokerTLS: Sendable, Equatable {
    public static let caVariable = "MGMT_AMQP_TLS_CA"
    public static let certificateVariable = "MGMT_AMQP_TLS_CERT"
    public static let keyVariable = "MGMT_AMQP_TLS_KEY"

    public let caFile: String
    public let certificateFile: String?
    public let keyFile: String?

    public init(caFile: String, certificateFile: String? = nil, keyFile: String? = nil) throws(BrokerError) {
        try Self.requireReadable(caFile, Self.caVariable)
        guard (certificateFile == nil) == (keyFile == nil) else {
            throw .invalidTLS("\(Self.certificateVariable) and \(Self.keyVariable) go together: set both or neither")
        }
        if let certificateFile, let keyFile {
            try Self.requireReadable(certificateFile, Self.certificateVariable)
            try Self.requireReadable(keyFile, Self.keyVariable)
        }
        self.caFile = caFile
        self.certificateFile = certificateFile
        self.keyFile = keyFile
    }

    /// The TLS settings `url` needs, from MGMT_AMQP_TLS_CA / _CERT / _KEY: nil for `amqp://`. A TLS variable
    /// with a plain `amqp://` URL is an error too: the operator meant TLS and would silently not get it.
    public static func forURL(_ url: AMQPURL, environment: [String: String] = ProcessInfo.processInfo.environment)
        throws(BrokerError) -> BrokerTLS?
    {
        func value(_ name: String) -> String? { environment[name].flatMap { $0.isEmpty ? nil : $0 } }
        let ca = value(caVariable), certificate = value(certificateVariable), key = value(keyVariable)
        guard url.usesTLS else {
            if let name = [(caVariable, ca), (certificateVariable, certificate), (keyVariable, key)]
                .first(where: { $0.1 != nil })?.0 {
                throw .invalidTLS("\(name) is set but the broker URL is \(url) (plain amqp://): use amqps://")
            }
            return nil
        }
        guard let ca else { throw .invalidTLS("amqps:// needs \(caVariable): the CA file (PEM) that signed the broker") }
        return try BrokerTLS(caFile: ca, certificateFile: certificate, keyFile: key)
    }

    private static func requireReadable(_ path: String, _ variable: String) throws(BrokerError) {
        let descriptor = open(path, O_RDONLY)
        guard descriptor >= 0 else {
            throw .invalidTLS("\(variable)=\(path): cannot read it: \(String(cString: strerror(errno)))")
        }
        close(descriptor)
    }
}
