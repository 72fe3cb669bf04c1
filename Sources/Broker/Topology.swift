/// One work queue: a durable quorum queue bound to the topology's exchange, with its own dead-letter queue.
public struct QueueSpec: Sendable, Equatable {
    public var name: String
    /// Routing keys that reach this queue on the topology's exchange (default: the queue's name).
    public var routingKeys: [String]
    /// Deliveries after which RabbitMQ dead-letters a message that keeps being requeued (x-delivery-limit).
    public var deliveryLimit: Int

    public init(name: String, routingKeys: [String]? = nil, deliveryLimit: Int = 5) {
        self.name = name
        self.routingKeys = routingKeys ?? [name]
        self.deliveryLimit = deliveryLimit
    }

    /// The queue that collects this queue's rejected and over-delivered messages.
    public var deadLetterQueue: String { name + ".dead" }
}

/// Exchanges and queues every worker declares at start. Declaring is idempotent; declaring the same name with
/// different arguments is refused by the server (`BrokerError.operationFailed`, 406 PRECONDITION_FAILED).
public struct Topology: Sendable, Equatable {
    /// A durable direct exchange the work queues are bound to.
    public var exchange: String
    /// A durable direct exchange for dead letters; each dead-letter queue is bound with its work queue's name.
    public var deadLetterExchange: String
    public var queues: [QueueSpec]

    public init(exchange: String, deadLetterExchange: String? = nil, queues: [QueueSpec]) {
        self.exchange = exchange
        self.deadLetterExchange = deadLetterExchange ?? exchange + ".dead"
        self.queues = queues
    }
}

/// A queue as a passive declare reports it.
public struct QueueStatus: Equatable, Sendable {
    /// Messages ready for delivery (not counting those delivered and not yet settled).
    public var ready: Int
    /// Consumers attached.
    public var consumers: Int

    public init(ready: Int, consumers: Int) {
        self.ready = ready
        self.consumers = consumers
    }
}
