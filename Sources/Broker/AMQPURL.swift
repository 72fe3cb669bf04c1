/// Where and as whom to connect: `amqp://user:password@host:port/vhost`, or `amqps://` for TLS (the vhost
/// percent-encoded, so the default vhost "/" is written `%2f`). A missing host, port or vhost takes RabbitMQ's
/// default (localhost, 5672 or 5671 for amqps, "/"); the user is required: there is no default login.
public struct AMQPURL: Sendable, Equatable, CustomStringConvertible {
    public var host: String
    public var port: Int
    public var user: String
    public var password: String
    public var virtualHost: String
    /// `amqps://`: TLS with peer and host-name verification (`BrokerTLS` names the CA and client certificate).
    public var usesTLS: Bool

    public init(host: String, port: Int? = nil, user: String, password: String, virtualHost: String = "/",
                usesTLS: Bool = false) {
        self.host = host
        self.port = port ?? (usesTLS ? 5671 : 5672)
        self.user = user
        self.password = password
        self.virtualHost = virtualHost
        self.usesTLS = usesTLS
    }

    public init(parsing text: String) throws {
        func invalid(_ reason: String) -> BrokerError { .invalidURL(reason) }
        guard let schemeEnd = text.range(of: "://") else {
            throw invalid("expected amqp://user:password@host:port/vhost")
        }
        let scheme = text[..<schemeEnd.lowerBound].lowercased()
        guard scheme == "amqp" || scheme == "amqps" else {
            throw invalid("unknown scheme \"\(scheme)\" (expected amqp or amqps)")
        }
        let usesTLS = scheme == "amqps"
        var rest = text[schemeEnd.upperBound...]
        if rest.contains("?") || rest.contains("#") { throw invalid("query parameters are not supported") }

        var vhost = "/"
        if let slash = rest.firstIndex(of: "/") {
            let path = rest[rest.index(after: slash)...]
            if path.contains("/") { throw invalid("the vhost must be one path segment (write \"/\" as %2f)") }
            if !path.isEmpty { vhost = try percentDecoded(path, part: "vhost") }
            rest = rest[..<slash]
        }

        var user = "", password = ""
        if let at = rest.lastIndex(of: "@") {
            let userInfo = rest[..<at]
            if let colon = userInfo.firstIndex(of: ":") {
                user = try percentDecoded(userInfo[..<colon], part: "user")
                password = try percentDecoded(userInfo[userInfo.index(after: colon)...], part: "password")
            } else {
                user = try percentDecoded(userInfo, part: "user")
                password = ""
            }
            rest = rest[rest.index(after: at)...]
        }

        if user.isEmpty { throw invalid("no user: write amqp://user:password@host:port/vhost") }

        var host = String(rest), port: Int?
        if rest.hasPrefix("[") {  // IPv6 literal: [::1]:5672
            guard let close = rest.firstIndex(of: "]") else { throw invalid("unclosed IPv6 address") }
            host = String(rest[rest.index(after: rest.startIndex)..<close])
            let afterHost = rest[rest.index(after: close)...]
            if !afterHost.isEmpty {
                guard afterHost.hasPrefix(":") else { throw invalid("unexpected text after the IPv6 address") }
                port = try parsePort(afterHost.dropFirst())
            }
        } else if let colon = rest.lastIndex(of: ":") {
            host = String(rest[..<colon])
            port = try parsePort(rest[rest.index(after: colon)...])
        }
        if host.isEmpty { host = "localhost" }
        if host.contains(where: { $0 == " " || $0 == "@" || $0 == ":" && !rest.hasPrefix("[") }) {
            throw invalid("malformed host \"\(host)\"")
        }
        self.init(host: host, port: port, user: user, password: password, virtualHost: vhost, usesTLS: usesTLS)
    }

    /// The URL without its password, for logs and errors.
    public var description: String {
        let encodedVhost = virtualHost.utf8.map { byte -> String in
            let unreserved = (byte >= 0x30 && byte <= 0x39) || (byte >= 0x41 && byte <= 0x5A)
                || (byte >= 0x61 && byte <= 0x7A) || byte == 0x2D || byte == 0x2E || byte == 0x5F || byte == 0x7E
            return unreserved ? String(UnicodeScalar(byte)) : "%" + String(byte, radix: 16, uppercase: false)
                .leftPadded(to: 2)
        }.joined()
        let hostPart = host.contains(":") ? "[\(host)]" : host
        return "\(usesTLS ? "amqps" : "amqp")://\(user)@\(hostPart):\(port)/\(encodedVhost)"
    }
}

private func parsePort(_ text: Substring) throws -> Int {
    guard let port = Int(text), (1...65535).contains(port) else {
        throw BrokerError.invalidURL("port \"\(text)\" is not a number from 1 to 65535")
    }
    return port
}

private func percentDecoded(_ text: Substring, part: String) throws -> String {
    var bytes: [UInt8] = []
    var index = text.utf8.startIndex
    let utf8 = text.utf8
    while index < utf8.endIndex {
        let byte = utf8[index]
        if byte == UInt8(ascii: "%") {
            let first = utf8.index(after: index)
            guard first < utf8.endIndex, utf8.index(after: first) < utf8.endIndex,
                  let value = UInt8(String(decoding: utf8[first...utf8.index(after: first)], as: UTF8.self),
                                    radix: 16)
            else {
                throw BrokerError.invalidURL("bad percent-escape in the \(part)")
            }
            bytes.append(value)
            index = utf8.index(first, offsetBy: 2)
        } else {
            bytes.append(byte)
            index = utf8.index(after: index)
        }
    }
    guard let decoded = String(validating: bytes, as: UTF8.self) else {
        throw BrokerError.invalidURL("the \(part) is not valid UTF-8 after percent-decoding")
    }
    return decoded
}

extension String {
    fileprivate func leftPadded(to width: Int) -> String {
        count >= width ? self : String(repeating: "0", count: width - count) + self
    }
}
