import Foundation

/// A message to publish: persistent, with a message id (generated when not given) that names it in errors.
public struct OutgoingMessage: Sendable {
    public var routingKey: String
    public var body: Data
    public var messageID: String
    public var contentType: String
    /// String-valued AMQP headers (e.g. a failure reason for a dead-lettered job).
    public var headers: [String: String]

    public init(routingKey: String, body: Data, messageID: String? = nil, contentType: String = "application/json",
                headers: [String: String] = [:]) {
        self.routingKey = routingKey
        self.body = body
        self.messageID = messageID ?? UUID().uuidString.lowercased()
        self.contentType = contentType
        self.headers = headers
    }
}

/// A received message. Acknowledge it through the `BrokerConnection` that delivered it, exactly once.
public struct Delivery: Sendable {
    public let body: Data
    public let messageID: String?
    public let contentType: String?
    /// AMQP headers whose values are strings or integers (integers in decimal); nested tables are left out.
    public let headers: [String: String]
    public let queue: String
    public let exchange: String
    public let routingKey: String
    /// For a dead-lettered message, the routing key it was published with before it first died (RabbitMQ's
    /// `x-death`): the dead-letter exchange re-keys it with its queue's name. Only the broker writes to dead-letter
    /// queues, so there it is the broker's word; nil for a message that never died.
    public let firstDeathRoutingKey: String?
    /// The broker delivered this message before (to this or another consumer) without an ack.
    public let redelivered: Bool
    public let deliveryTag: UInt64
    let origin: DeliveryOrigin

    /// How often a quorum queue delivered this message before (RabbitMQ's x-delivery-count); nil the first time.
    public var deliveryCount: Int? { headers["x-delivery-count"].flatMap { Int($0) } }
}

/// Which connection and channel (and which opening of that channel) a delivery tag belongs to.
struct DeliveryOrigin: Sendable, Equatable {
    let connectionSerial: UInt64
    let channel: UInt16
    let channelGeneration: Int
}

/// What a consumer does with a delivery.
public enum Disposition: Sendable, Equatable {
    case ack
    /// Back to the queue (`requeue: true`, counted against the delivery limit) or to the dead-letter queue.
    case reject(requeue: Bool)
    /// Like `reject`, and with `multiple: true` also every earlier unsettled delivery of the same channel.
    case nack(multiple: Bool, requeue: Bool)
}
