/// A broker failure, worded for one log line. Never contains a password or a message body.
public enum BrokerError: Error, CustomStringConvertible, Sendable, Equatable {
    /// The AMQP URL cannot be used; the reason says which part is wrong.
    case invalidURL(String)
    /// The TLS settings cannot be used (missing or unreadable CA, certificate or key; TLS files without amqps).
    case invalidTLS(String)
    /// The TCP connection or the AMQP handshake could not be established (refused, unreachable, timed out).
    case connectionFailed(endpoint: String, reason: String)
    /// The broker refused the credentials or the vhost (ACCESS_REFUSED, NOT_ALLOWED, or closed during login).
    case authenticationFailed(endpoint: String, reason: String)
    /// An open connection broke: socket error, missed heartbeats, or the server closed it (reason has its text).
    /// Everything in flight is unconfirmed and every unacknowledged delivery will be redelivered: reconnect.
    case connectionLost(String)
    /// The server closed the publish/consume channel (e.g. publishing to a missing exchange). Reconnect.
    case channelClosed(code: Int, text: String)
    /// The server cancelled the consumer (its queue was deleted). Reconnect and redeclare.
    case consumerCancelled(queue: String)
    /// A management operation (declare, bind, purge, delete, passive declare) was refused by the server.
    case operationFailed(operation: String, code: Int, text: String)
    /// The broker did not take responsibility for these messages (basic.nack): publish them again.
    case publishNacked(messageIDs: [String])
    /// No queue was bound for these messages (mandatory publish returned): nothing was stored.
    case unroutable(messageIDs: [String], exchange: String, routingKey: String, reason: String)
    /// Publisher confirms did not arrive in time; the connection is closed (the messages may or may not be stored).
    case confirmTimeout(seconds: Double, unconfirmed: Int)
    /// The delivery came from an earlier connection (or another one): its tag is meaningless here.
    case staleDelivery
    /// The caller closed this connection.
    case closed

    /// The connection (or its channel) is unusable: open a new `BrokerConnection`, with backoff.
    public var requiresReconnect: Bool {
        switch self {
        case .connectionLost, .channelClosed, .consumerCancelled, .confirmTimeout, .closed: return true
        default: return false
        }
    }

    /// The configuration itself is wrong and no retry can help: a process should say so and exit.
    public var isConfigurationError: Bool {
        switch self {
        case .invalidURL, .invalidTLS: return true
        default: return false
        }
    }

    /// Worth retrying later with the same configuration (the broker was unreachable or went away).
    public var isTransient: Bool {
        switch self {
        case .connectionFailed, .connectionLost, .publishNacked, .confirmTimeout: return true
        default: return false
        }
    }

    public var description: String {
        switch self {
        case .invalidURL(let reason): return "invalid AMQP URL: \(reason)"
        case .invalidTLS(let reason): return "invalid AMQP TLS settings: \(reason)"
        case .connectionFailed(let endpoint, let reason): return "cannot connect to RabbitMQ at \(endpoint): \(reason)"
        case .authenticationFailed(let endpoint, let reason):
            return "RabbitMQ at \(endpoint) refused the login: \(reason)"
        case .connectionLost(let reason): return "RabbitMQ connection lost: \(reason)"
        case .channelClosed(let code, let text): return "RabbitMQ closed the channel: \(code) \(text)"
        case .consumerCancelled(let queue): return "RabbitMQ cancelled the consumer of queue \"\(queue)\""
        case .operationFailed(let operation, let code, let text):
            return "RabbitMQ refused to \(operation): \(code) \(text)"
        case .publishNacked(let ids): return "RabbitMQ rejected \(ids.count) published message(s) (basic.nack): \(ids)"
        case .unroutable(let ids, let exchange, let routingKey, let reason):
            return "no queue bound for routing key \"\(routingKey)\" on exchange \"\(exchange)\" (\(reason)): "
                + "\(ids.count) message(s) returned"
        case .confirmTimeout(let seconds, let unconfirmed):
            return "no publisher confirm within \(seconds) s for \(unconfirmed) message(s)"
        case .staleDelivery: return "delivery belongs to another (earlier) connection; it cannot be acknowledged here"
        case .closed: return "the broker connection was closed"
        }
    }
}
