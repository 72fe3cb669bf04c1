import CRabbitMQ
import Foundation
import Logging

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// One rabbitmq-c connection, used by exactly one thread at a time (rabbitmq-c is not thread-safe).
///
/// Channel 1 ("work") publishes in confirm mode and consumes; channel 2 ("admin") runs declarations, purges,
/// passive declares and basic.get, so that a refused management call (which closes its channel) never disturbs
/// publishing or consuming: the admin channel is simply reopened.
///
/// Every frame read from the socket, whichever call reads it, goes through `handle(_:)`: deliveries are buffered
/// in `deliveries`, confirms update the publish window, and a server close becomes a `BrokerError`. After a fatal
/// error `brokenError` is set and the connection must be discarded.
final class AMQPConnection {
    static let workChannel: amqp_channel_t = 1
    static let adminChannel: amqp_channel_t = 2
    private static let nextSerial = SerialCounter()

    let endpoint: String
    let serial: UInt64
    private let state: amqp_connection_state_t
    private let options: BrokerOptions
    private let logger: Logger
    private var destroyed = false

    /// Set once the connection is unusable; every later call throws it.
    private(set) var brokenError: BrokerError?
    /// Deliveries read from the socket, oldest first, not yet handed to the consumer.
    var deliveries: [Delivery] = []
    private var consumerQueues: [String: String] = [:]  // consumer tag → queue
    private var adminChannelGeneration = 0

    // Publisher confirms on the work channel: sequence numbers start at 1 after confirm.select.
    private var nextPublishSequence: UInt64 = 1
    private var unconfirmed: [UInt64: String] = [:]  // sequence → message id
    private var nackedIDs: [String] = []
    private var returns: [(messageID: String, exchange: String, routingKey: String, reason: String)] = []

    init(url: AMQPURL, options: BrokerOptions, logger: Logger) throws {
        endpoint = "\(url.host):\(url.port)"
        serial = Self.nextSerial.next()
        self.options = options
        self.logger = logger
        guard let state = amqp_new_connection() else {
            throw BrokerError.connectionFailed(endpoint: endpoint, reason: "out of memory")
        }
        self.state = state
        do {
            try open(url)
        } catch {
            destroy()
            throw error
        }
    }

    deinit {
        destroy()
    }

    private func open(_ url: AMQPURL) throws {
        let socket = try url.usesTLS ? tlsSocket(options.tls ?? BrokerTLS.forURL(url)) : amqp_tcp_socket_new(state)
        guard let socket else {
            throw BrokerError.connectionFailed(endpoint: endpoint, reason: "cannot create a socket")
        }
        var connectTimeout = timeval(seconds: options.connectTimeout)
        let opened = amqp_socket_open_noblock(socket, url.host, Int32(url.port), &connectTimeout)
        guard opened == AMQP_STATUS_OK.rawValue else {
            throw BrokerError.connectionFailed(endpoint: endpoint, reason: errorText(opened))
        }
        var handshakeTimeout = timeval(seconds: options.connectTimeout)
        amqp_set_handshake_timeout(state, &handshakeTimeout)
        var rpcTimeout = timeval(seconds: options.rpcTimeout)
        amqp_set_rpc_timeout(state, &rpcTimeout)

        let login = mgmt_amqp_login_plain(state, url.virtualHost, 0, 131_072, Int32(options.heartbeat), url.user,
                                          url.password, options.connectionName)
        switch login.reply_type {
        case AMQP_RESPONSE_NORMAL:
            break
        case AMQP_RESPONSE_SERVER_EXCEPTION:
            let (code, text) = closeReason(login.reply)
            if code == Int(AMQP_ACCESS_REFUSED) || code == Int(AMQP_NOT_ALLOWED) {
                throw BrokerError.authenticationFailed(endpoint: endpoint, reason: "\(code) \(text)")
            }
            throw BrokerError.connectionFailed(endpoint: endpoint, reason: "login: \(code) \(text)")
        default:
            // RabbitMQ reports bad credentials as a server close (403, above) since rabbitmq-c announces
            // authentication_failure_close; a bare socket close means an old broker or no AMQP server at all.
            let status = login.library_error
            let hint = status == AMQP_STATUS_CONNECTION_CLOSED.rawValue || status == AMQP_STATUS_SOCKET_ERROR.rawValue
                ? " (is this an AMQP 0-9-1 server? an old broker may also close like this on a refused login)" : ""
            throw BrokerError.connectionFailed(endpoint: endpoint,
                                               reason: "AMQP handshake: \(errorText(status))\(hint)")
        }

        amqp_channel_open(state, Self.workChannel)
        try checkReply("open the work channel", channel: Self.workChannel)
        amqp_confirm_select(state, Self.workChannel)
        try checkReply("enable publisher confirms", channel: Self.workChannel)
        amqp_channel_open(state, Self.adminChannel)
        try checkReply("open the admin channel", channel: Self.adminChannel)
        logger.info("connected to RabbitMQ", metadata: [
            "url": "\(url)", "heartbeat_s": "\(amqp_get_heartbeat(state))",
        ])
    }

    /// A TLS socket that verifies the broker's certificate against the CA and its name against the URL's host.
    private func tlsSocket(_ tls: BrokerTLS?) throws -> OpaquePointer? {
        guard let tls else { throw BrokerError.invalidTLS("amqps:// needs a CA file") }
        guard let socket = amqp_ssl_socket_new(state) else { return nil }
        amqp_ssl_socket_set_verify_peer(socket, 1)
        amqp_ssl_socket_set_verify_hostname(socket, 1)
        let caStatus = amqp_ssl_socket_set_cacert(socket, tls.caFile)
        guard caStatus == AMQP_STATUS_OK.rawValue else {
            throw BrokerError.invalidTLS("\(BrokerTLS.caVariable)=\(tls.caFile): not a PEM CA file (\(errorText(caStatus)))")
        }
        if let certificate = tls.certificateFile, let key = tls.keyFile {
            let keyStatus = amqp_ssl_socket_set_key(socket, certificate, key)
            guard keyStatus == AMQP_STATUS_OK.rawValue else {
                throw BrokerError.invalidTLS("\(BrokerTLS.certificateVariable)=\(certificate) with "
                    + "\(BrokerTLS.keyVariable)=\(key): not a matching PEM certificate and key (\(errorText(keyStatus)))")
            }
        }
        return socket
    }

    /// Closes the connection politely (best effort, waiting at most 2 s for the server's close-ok; the broker
    /// requeues unsettled deliveries), then frees rabbitmq-c's state.
    func close() {
        if brokenError == nil && !destroyed {
            var closeTimeout = timeval(seconds: 2)
            amqp_set_rpc_timeout(state, &closeTimeout)
            amqp_connection_close(state, AMQP_REPLY_SUCCESS)
            brokenError = .closed
        }
        destroy()
    }

    private func destroy() {
        guard !destroyed else { return }
        destroyed = true
        amqp_destroy_connection(state)
    }

    // MARK: - Topology and management (admin channel)

    /// Declares the topology. A user without configure permission (RabbitMQ refuses with 403) cannot declare, and
    /// needs not: the topology must then exist already (a worker declared it), which a passive declare confirms;
    /// its bindings were made by whoever declared it.
    func declare(_ topology: Topology) throws {
        try ensureUsable()
        // Topic, not direct: RabbitMQ's topic permissions restrict the routing keys (so the queues) each user may
        // publish to; on a direct exchange write permission would cover every queue bound to it.
        try declareExchange(topology.exchange, type: "topic")
        try declareExchange(topology.deadLetterExchange, type: "direct")
        for queue in topology.queues {
            if try declareQuorumQueue(queue.deadLetterQueue, arguments: []) {
                try bind(queue: queue.deadLetterQueue, exchange: topology.deadLetterExchange, routingKey: queue.name)
            }
            let declared = try declareQuorumQueue(queue.name, arguments: [
                ("x-dead-letter-exchange", .string(topology.deadLetterExchange)),
                ("x-dead-letter-routing-key", .string(queue.name)),
                ("x-delivery-limit", .integer(Int64(queue.deliveryLimit))),
            ])
            for key in queue.routingKeys where declared {
                try bind(queue: queue.name, exchange: topology.exchange, routingKey: key)
            }
        }
    }

    private func declareExchange(_ name: String, type: String) throws {
        try declaringOrFindingExisting("exchange", name) { passive in
            try withArena { arena in
                amqp_exchange_declare(state, Self.adminChannel, arena.bytes(name), arena.bytes(type), passive ? 1 : 0,
                                      1, 0, 0, amqp_empty_table)
                try checkReply("declare exchange \"\(name)\"", channel: Self.adminChannel)
            }
        }
    }

    /// True when declared, false when this user may not declare it but it exists.
    private func declareQuorumQueue(_ name: String, arguments: [(String, TableValue)]) throws -> Bool {
        try declaringOrFindingExisting("queue", name) { passive in
            try withArena { arena in
                let table = arena.table([("x-queue-type", .string("quorum"))] + arguments)
                amqp_queue_declare(state, Self.adminChannel, arena.bytes(name), passive ? 1 : 0, 1, 0, 0,
                                   passive ? amqp_empty_table : table)
                try checkReply("declare queue \"\(name)\"", channel: Self.adminChannel)
            }
        }
    }

    /// Runs `declare(passive: false)`; if RabbitMQ refuses it for lack of configure permission (403), runs it
    /// passively and returns false if the entity exists. A missing one is an error naming the cause.
    @discardableResult
    private func declaringOrFindingExisting(_ kind: String, _ name: String, _ declare: (_ passive: Bool) throws -> Void)
        throws -> Bool
    {
        do {
            try declare(false)
            return true
        } catch BrokerError.operationFailed(let operation, let code, let text) where code == Int(AMQP_ACCESS_REFUSED) {
            do {
                try declare(true)
                return false
            } catch BrokerError.operationFailed(_, let missing, _) where missing == Int(AMQP_NOT_FOUND) {
                throw BrokerError.operationFailed(
                    operation: operation, code: code,
                    text: "\(text); the \(kind) \"\(name)\" does not exist yet and this user may not create it "
                        + "(the topology comes with the broker definitions: scripts/servers.sh, scripts/compose-secrets.sh)")
            }
        }
    }

    private func bind(queue: String, exchange: String, routingKey: String) throws {
        try withArena { arena in
            amqp_queue_bind(state, Self.adminChannel, arena.bytes(queue), arena.bytes(exchange),
                            arena.bytes(routingKey), amqp_empty_table)
            try checkReply("bind queue \"\(queue)\" to \"\(exchange)\"", channel: Self.adminChannel)
        }
    }

    /// Ready messages and consumers of `queue` (passive declare); a missing queue is `operationFailed` with 404.
    func status(of queue: String) throws -> QueueStatus {
        try ensureUsable()
        return try withArena { arena in
            let ok = amqp_queue_declare(state, Self.adminChannel, arena.bytes(queue), 1, 0, 0, 0, amqp_empty_table)
            try checkReply("inspect queue \"\(queue)\"", channel: Self.adminChannel)
            return QueueStatus(ready: Int(ok?.pointee.message_count ?? 0), consumers: Int(ok?.pointee.consumer_count ?? 0))
        }
    }

    func purge(queue: String) throws -> Int {
        try ensureUsable()
        return try withArena { arena in
            let ok = amqp_queue_purge(state, Self.adminChannel, arena.bytes(queue))
            try checkReply("purge queue \"\(queue)\"", channel: Self.adminChannel)
            return Int(ok?.pointee.message_count ?? 0)
        }
    }

    func deleteQueue(_ queue: String) throws -> Int {
        try ensureUsable()
        return try withArena { arena in
            let ok = amqp_queue_delete(state, Self.adminChannel, arena.bytes(queue), 0, 0)
            try checkReply("delete queue \"\(queue)\"", channel: Self.adminChannel)
            return Int(ok?.pointee.message_count ?? 0)
        }
    }

    func deleteExchange(_ exchange: String) throws {
        try ensureUsable()
        try withArena { arena in
            amqp_exchange_delete(state, Self.adminChannel, arena.bytes(exchange), 0)
            try checkReply("delete exchange \"\(exchange)\"", channel: Self.adminChannel)
        }
    }

    /// One message from `queue` by basic.get (manual ack), or nil when the queue is empty.
    func get(queue: String) throws -> Delivery? {
        try ensureUsable()
        let reply = withArena { arena in amqp_basic_get(state, Self.adminChannel, arena.bytes(queue), 0) }
        try check(reply, "get from queue \"\(queue)\"", channel: Self.adminChannel)
        guard reply.reply.id == MGMT_AMQP_BASIC_GET_OK_METHOD,
              let getOK = decoded(reply.reply, as: amqp_basic_get_ok_t.self)
        else { return nil }
        let envelope = Envelope(queue: queue, exchange: string(getOK.exchange), routingKey: string(getOK.routing_key),
                                redelivered: getOK.redelivered != 0, deliveryTag: getOK.delivery_tag)
        return try readDelivery(envelope, channel: Self.adminChannel, generation: adminChannelGeneration)
    }

    // MARK: - Consuming (work channel)

    func startConsuming(queue: String, prefetch: Int) throws {
        try ensureUsable()
        amqp_basic_qos(state, Self.workChannel, 0, UInt16(clamping: max(prefetch, 1)), 0)
        try checkReply("set prefetch", channel: Self.workChannel)
        let tag = try withArena { arena -> String in
            let ok = amqp_basic_consume(state, Self.workChannel, arena.bytes(queue), amqp_empty_bytes, 0, 0, 0,
                                        amqp_empty_table)
            try checkReply("consume queue \"\(queue)\"", channel: Self.workChannel)
            return ok.map { string($0.pointee.consumer_tag) } ?? ""
        }
        consumerQueues[tag] = queue
        logger.info("consuming", metadata: ["queue": "\(queue)", "prefetch": "\(prefetch)"])
    }

    /// Cancels every consumer; deliveries already buffered stay (ack or reject them, or close to requeue them).
    func stopConsuming() throws {
        try ensureUsable()
        for tag in consumerQueues.keys.sorted() {
            try withArena { arena in
                amqp_basic_cancel(state, Self.workChannel, arena.bytes(tag))
                try checkReply("cancel consumer", channel: Self.workChannel)
            }
        }
        consumerQueues.removeAll()
    }

    func settle(_ delivery: Delivery, _ disposition: Disposition) throws {
        try ensureUsable()
        let origin = delivery.origin
        let currentGeneration = origin.channel == Self.adminChannel ? adminChannelGeneration : 0
        guard origin.connectionSerial == serial, origin.channelGeneration == currentGeneration else {
            throw BrokerError.staleDelivery
        }
        let status: Int32
        switch disposition {
        case .ack: status = amqp_basic_ack(state, origin.channel, delivery.deliveryTag, 0)
        case .reject(let requeue):
            status = amqp_basic_reject(state, origin.channel, delivery.deliveryTag, requeue ? 1 : 0)
        case .nack(let multiple, let requeue):
            status = amqp_basic_nack(state, origin.channel, delivery.deliveryTag, multiple ? 1 : 0, requeue ? 1 : 0)
        }
        guard status == AMQP_STATUS_OK.rawValue else { throw fail(.connectionLost("ack/reject: \(errorText(status))")) }
    }

    // MARK: - Publishing with confirms (work channel)

    /// Publishes every message (mandatory, persistent) keeping at most `options.publishWindow` unconfirmed, then
    /// waits for the rest. Throws `unroutable` for returned messages and `publishNacked` for nacked ones.
    func publish(_ messages: [OutgoingMessage], exchange: String) throws {
        try ensureUsable()
        nackedIDs.removeAll()
        returns.removeAll()
        let window = max(options.publishWindow, 1)
        for message in messages {
            while unconfirmed.count >= window { try awaitConfirmProgress() }
            try send(message, exchange: exchange)
        }
        while !unconfirmed.isEmpty { try awaitConfirmProgress() }

        let batchIDs = Set(messages.map(\.messageID))
        let returned = returns.filter { batchIDs.contains($0.messageID) }
        if let first = returned.first {
            throw BrokerError.unroutable(messageIDs: returned.map(\.messageID), exchange: first.exchange,
                                         routingKey: first.routingKey, reason: first.reason)
        }
        if !nackedIDs.isEmpty { throw BrokerError.publishNacked(messageIDs: nackedIDs) }
    }

    private func send(_ message: OutgoingMessage, exchange: String) throws {
        let status = withArena { arena -> Int32 in
            var properties = amqp_basic_properties_t()
            properties._flags = MGMT_AMQP_BASIC_CONTENT_TYPE_FLAG | MGMT_AMQP_BASIC_DELIVERY_MODE_FLAG
                | MGMT_AMQP_BASIC_MESSAGE_ID_FLAG
            properties.content_type = arena.bytes(message.contentType)
            properties.delivery_mode = 2  // persistent
            properties.message_id = arena.bytes(message.messageID)
            if !message.headers.isEmpty {
                properties._flags |= MGMT_AMQP_BASIC_HEADERS_FLAG
                properties.headers = arena.table(message.headers.sorted { $0.key < $1.key }
                    .map { ($0.key, .string($0.value)) })
            }
            return amqp_basic_publish(state, Self.workChannel, arena.bytes(exchange), arena.bytes(message.routingKey),
                                      1, 0, &properties, arena.bytes(message.body))
        }
        guard status == AMQP_STATUS_OK.rawValue else { throw fail(.connectionLost("publish: \(errorText(status))")) }
        unconfirmed[nextPublishSequence] = message.messageID
        nextPublishSequence += 1
    }

    /// Reads frames until at least one outstanding publish is confirmed; no progress for `confirmTimeout` is fatal
    /// (late confirms would no longer match the window, so the connection cannot be reused).
    private func awaitConfirmProgress() throws {
        let outstanding = unconfirmed.count
        let deadline = Date().addingTimeInterval(options.confirmTimeout)
        while unconfirmed.count == outstanding {
            let remaining = deadline.timeIntervalSinceNow
            guard remaining > 0 else {
                throw fail(.confirmTimeout(seconds: options.confirmTimeout, unconfirmed: outstanding))
            }
            try readFrame(timeout: remaining)
        }
    }

    private func confirm(upTo tag: UInt64, multiple: Bool, nacked: Bool) {
        let confirmed = multiple ? unconfirmed.keys.filter { $0 <= tag } : (unconfirmed[tag] == nil ? [] : [tag])
        for sequence in confirmed {
            if let id = unconfirmed.removeValue(forKey: sequence), nacked { nackedIDs.append(id) }
        }
    }

    // MARK: - Reading frames

    /// Waits up to `timeout` for the socket or `wakeDescriptor` to become readable, then handles every frame
    /// already received. Heartbeats are sent and checked in the same calls, so calling this at least every
    /// heartbeat/2 seconds keeps an idle connection alive.
    func service(waitingUpTo timeout: Double, wakeDescriptor: Int32) throws {
        try ensureUsable()
        if amqp_frames_enqueued(state) == 0 && amqp_data_in_buffer(state) == 0 {
            var descriptors = [
                pollfd(fd: amqp_get_sockfd(state), events: Int16(POLLIN), revents: 0),
                pollfd(fd: wakeDescriptor, events: Int16(POLLIN), revents: 0),
            ]
            _ = poll(&descriptors, nfds_t(descriptors.count), Int32(timeout * 1000))
        }
        while try readFrame(timeout: 0) {}
        amqp_maybe_release_buffers(state)  // also frees what management calls left in the pools
    }

    /// Reads and handles one frame, waiting at most `timeout` seconds; false when none arrived in time.
    @discardableResult
    private func readFrame(timeout: Double) throws -> Bool {
        var frame = amqp_frame_t()
        var wait = timeval(seconds: timeout)
        let status = amqp_simple_wait_frame_noblock(state, &frame, &wait)
        if status == AMQP_STATUS_TIMEOUT.rawValue { return false }
        guard status == AMQP_STATUS_OK.rawValue else { throw fail(.connectionLost(errorText(status))) }
        try handle(frame)
        amqp_maybe_release_buffers(state)
        return true
    }

    private func handle(_ frame: amqp_frame_t) throws {
        guard frame.frame_type == UInt8(AMQP_FRAME_METHOD) else {
            logger.debug("ignored a stray frame",
                         metadata: ["type": "\(frame.frame_type)", "channel": "\(frame.channel)"])
            return
        }
        let method = frame.payload.method
        switch method.id {
        case MGMT_AMQP_BASIC_DELIVER_METHOD where frame.channel == Self.workChannel:
            guard let deliver = decoded(method, as: amqp_basic_deliver_t.self) else { return }
            let envelope = Envelope(queue: consumerQueues[string(deliver.consumer_tag)] ?? "",
                                    exchange: string(deliver.exchange), routingKey: string(deliver.routing_key),
                                    redelivered: deliver.redelivered != 0, deliveryTag: deliver.delivery_tag)
            deliveries.append(try readDelivery(envelope, channel: Self.workChannel, generation: 0))
        case MGMT_AMQP_BASIC_ACK_METHOD where frame.channel == Self.workChannel:
            guard let ack = decoded(method, as: amqp_basic_ack_t.self) else { return }
            confirm(upTo: ack.delivery_tag, multiple: ack.multiple != 0, nacked: false)
        case MGMT_AMQP_BASIC_NACK_METHOD where frame.channel == Self.workChannel:
            guard let nack = decoded(method, as: amqp_basic_nack_t.self) else { return }
            confirm(upTo: nack.delivery_tag, multiple: nack.multiple != 0, nacked: true)
        case MGMT_AMQP_BASIC_RETURN_METHOD where frame.channel == Self.workChannel:
            guard let returned = decoded(method, as: amqp_basic_return_t.self) else { return }
            let exchange = string(returned.exchange), routingKey = string(returned.routing_key)
            let reason = "\(returned.reply_code) \(string(returned.reply_text))"
            let envelope = Envelope(queue: "", exchange: exchange, routingKey: routingKey, redelivered: false,
                                    deliveryTag: 0)
            let message = try readDelivery(envelope, channel: Self.workChannel, generation: 0)
            returns.append((message.messageID ?? "", exchange, routingKey, reason))
        case MGMT_AMQP_BASIC_CANCEL_METHOD where frame.channel == Self.workChannel:
            let tag = decoded(method, as: amqp_basic_cancel_t.self).map { string($0.consumer_tag) }
            throw fail(.consumerCancelled(queue: tag.flatMap { consumerQueues[$0] } ?? "?"))
        case MGMT_AMQP_CHANNEL_CLOSE_METHOD:
            let (code, text) = closeReason(method)
            try acknowledgeChannelClose(frame.channel)
            if frame.channel == Self.workChannel { throw fail(.channelClosed(code: code, text: text)) }
            logger.warning("RabbitMQ closed the admin channel", metadata: ["reason": "\(code) \(text)"])
        case MGMT_AMQP_CONNECTION_CLOSE_METHOD:
            throw serverClosedConnection(method)
        case MGMT_AMQP_CONNECTION_BLOCKED_METHOD:
            logger.warning("RabbitMQ blocked publishing (resource alarm)")
        case MGMT_AMQP_CONNECTION_UNBLOCKED_METHOD:
            logger.info("RabbitMQ unblocked publishing")
        default:
            logger.debug("ignored a method", metadata: ["method": "\(method.id)", "channel": "\(frame.channel)"])
        }
    }

    private struct Envelope {
        let queue, exchange, routingKey: String
        let redelivered: Bool
        let deliveryTag: UInt64
    }

    /// Reads the content header and body that follow a deliver, get-ok or return method, copying them out.
    private func readDelivery(_ envelope: Envelope, channel: amqp_channel_t, generation: Int) throws -> Delivery {
        var message = amqp_message_t()
        let reply = amqp_read_message(state, channel, &message, 0)
        try check(reply, "read a message", channel: channel)
        defer { amqp_destroy_message(&message) }
        let properties = message.properties
        let flags = properties._flags
        let hasHeaders = flags & MGMT_AMQP_BASIC_HEADERS_FLAG != 0
        return Delivery(
            body: message.body.len == 0 ? Data() : Data(bytes: message.body.bytes, count: message.body.len),
            messageID: flags & MGMT_AMQP_BASIC_MESSAGE_ID_FLAG != 0 ? string(properties.message_id) : nil,
            contentType: flags & MGMT_AMQP_BASIC_CONTENT_TYPE_FLAG != 0 ? string(properties.content_type) : nil,
            headers: hasHeaders ? headerStrings(properties.headers) : [:],
            queue: envelope.queue, exchange: envelope.exchange, routingKey: envelope.routingKey,
            firstDeathRoutingKey: hasHeaders ? firstDeathRoutingKey(properties.headers) : nil,
            redelivered: envelope.redelivered, deliveryTag: envelope.deliveryTag,
            origin: DeliveryOrigin(connectionSerial: serial, channel: channel, channelGeneration: generation))
    }

    // MARK: - Errors

    private func ensureUsable() throws {
        if let brokenError { throw brokenError }
    }

    /// Marks the connection unusable and returns the error to throw.
    private func fail(_ error: BrokerError) -> BrokerError {
        if brokenError == nil {
            brokenError = error
            logger.debug("RabbitMQ connection unusable", metadata: ["error": "\(error)"])
        }
        return brokenError ?? error
    }

    private func checkReply(_ operation: String, channel: amqp_channel_t) throws {
        try check(amqp_get_rpc_reply(state), operation, channel: channel)
    }

    /// Maps an RPC reply to an error: a refused admin call reopens the admin channel and throws
    /// `operationFailed`; anything else that fails makes the connection unusable.
    private func check(_ reply: amqp_rpc_reply_t, _ operation: String, channel: amqp_channel_t) throws {
        switch reply.reply_type {
        case AMQP_RESPONSE_NORMAL:
            return
        case AMQP_RESPONSE_SERVER_EXCEPTION where reply.reply.id == MGMT_AMQP_CHANNEL_CLOSE_METHOD:
            let (code, text) = closeReason(reply.reply)
            try acknowledgeChannelClose(channel)
            if channel == Self.workChannel { throw fail(.channelClosed(code: code, text: text)) }
            throw BrokerError.operationFailed(operation: operation, code: code, text: text)
        case AMQP_RESPONSE_SERVER_EXCEPTION:
            throw serverClosedConnection(reply.reply)
        case AMQP_RESPONSE_LIBRARY_EXCEPTION:
            throw fail(.connectionLost("\(operation): \(errorText(reply.library_error))"))
        default:
            throw fail(.connectionLost("\(operation): no reply from the server"))
        }
    }

    /// Answers channel.close with close-ok; the admin channel is reopened so later management calls work.
    private func acknowledgeChannelClose(_ channel: amqp_channel_t) throws {
        var closeOK = amqp_channel_close_ok_t()
        let status = amqp_send_method(state, channel, MGMT_AMQP_CHANNEL_CLOSE_OK_METHOD, &closeOK)
        guard status == AMQP_STATUS_OK.rawValue else { throw fail(.connectionLost(errorText(status))) }
        guard channel == Self.adminChannel else { return }
        adminChannelGeneration += 1
        amqp_channel_open(state, Self.adminChannel)
        let reply = amqp_get_rpc_reply(state)
        guard reply.reply_type == AMQP_RESPONSE_NORMAL else {
            throw fail(.connectionLost("cannot reopen the admin channel"))
        }
    }

    private func serverClosedConnection(_ method: amqp_method_t) -> BrokerError {
        let (code, text) = closeReason(method)
        var closeOK = amqp_connection_close_ok_t()
        _ = amqp_send_method(state, 0, MGMT_AMQP_CONNECTION_CLOSE_OK_METHOD, &closeOK)
        return fail(.connectionLost("the server closed the connection: \(code) \(text)"))
    }

    private func closeReason(_ method: amqp_method_t) -> (code: Int, text: String) {
        if method.id == MGMT_AMQP_CONNECTION_CLOSE_METHOD,
           let close = decoded(method, as: amqp_connection_close_t.self) {
            return (Int(close.reply_code), string(close.reply_text))
        }
        if method.id == MGMT_AMQP_CHANNEL_CLOSE_METHOD, let close = decoded(method, as: amqp_channel_close_t.self) {
            return (Int(close.reply_code), string(close.reply_text))
        }
        return (0, "no reason given (method \(method.id))")
    }
}

// MARK: - Helpers for rabbitmq-c's types

/// A method's decoded arguments (they live in the connection's pool: copy what you keep).
private func decoded<Arguments>(_ method: amqp_method_t, as type: Arguments.Type) -> Arguments? {
    method.decoded?.assumingMemoryBound(to: type).pointee
}

private func errorText(_ status: Int32) -> String {
    String(cString: amqp_error_string2(status))
}

/// Copies broker-owned bytes (they live in the connection's pool until the next release).
private func string(_ bytes: amqp_bytes_t) -> String {
    guard let start = bytes.bytes, bytes.len > 0 else { return "" }
    return String(decoding: UnsafeRawBufferPointer(start: start, count: bytes.len), as: UTF8.self)
}

private func headerStrings(_ table: amqp_table_t) -> [String: String] {
    guard let entries = table.entries, table.num_entries > 0 else { return [:] }
    var headers: [String: String] = [:]
    for entry in UnsafeBufferPointer(start: entries, count: Int(table.num_entries)) {
        let value = entry.value.value
        let text: String?
        switch UInt32(entry.value.kind) {
        case AMQP_FIELD_KIND_UTF8.rawValue, AMQP_FIELD_KIND_BYTES.rawValue: text = string(value.bytes)
        case AMQP_FIELD_KIND_I8.rawValue: text = String(value.i8)
        case AMQP_FIELD_KIND_U8.rawValue: text = String(value.u8)
        case AMQP_FIELD_KIND_I16.rawValue: text = String(value.i16)
        case AMQP_FIELD_KIND_U16.rawValue: text = String(value.u16)
        case AMQP_FIELD_KIND_I32.rawValue: text = String(value.i32)
        case AMQP_FIELD_KIND_U32.rawValue: text = String(value.u32)
        case AMQP_FIELD_KIND_I64.rawValue: text = String(value.i64)
        case AMQP_FIELD_KIND_U64.rawValue: text = String(value.u64)
        case AMQP_FIELD_KIND_BOOLEAN.rawValue: text = value.boolean != 0 ? "true" : "false"
        default: text = nil
        }
        if let text { headers[string(entry.key)] = text }
    }
    return headers
}

/// The first routing key of the oldest `x-death` entry (RabbitMQ puts the latest death first): an array of tables,
/// each with a `routing-keys` array.
private func firstDeathRoutingKey(_ headers: amqp_table_t) -> String? {
    func entries(_ table: amqp_table_t) -> UnsafeBufferPointer<amqp_table_entry_t> {
        UnsafeBufferPointer(start: table.entries, count: table.entries == nil ? 0 : Int(table.num_entries))
    }
    func elements(_ array: amqp_array_t) -> UnsafeBufferPointer<amqp_field_value_t> {
        UnsafeBufferPointer(start: array.entries, count: array.entries == nil ? 0 : Int(array.num_entries))
    }
    func field(_ name: String, in table: amqp_table_t, kind: UInt32) -> amqp_field_value_t? {
        entries(table).first { string($0.key) == name && UInt32($0.value.kind) == kind }?.value
    }
    guard let deaths = field("x-death", in: headers, kind: AMQP_FIELD_KIND_ARRAY.rawValue),
          let oldest = elements(deaths.value.array).last, UInt32(oldest.kind) == AMQP_FIELD_KIND_TABLE.rawValue,
          let keys = field("routing-keys", in: oldest.value.table, kind: AMQP_FIELD_KIND_ARRAY.rawValue),
          let key = elements(keys.value.array).first,
          [AMQP_FIELD_KIND_UTF8.rawValue, AMQP_FIELD_KIND_BYTES.rawValue].contains(UInt32(key.kind))
    else { return nil }
    return string(key.value.bytes)
}

extension timeval {
    init(seconds: Double) {
        let clamped = max(seconds, 0)
        self.init(tv_sec: Int(clamped), tv_usec: Int((clamped - clamped.rounded(.down)) * 1_000_000))
    }
}

enum TableValue {
    case string(String)
    case integer(Int64)
}

/// C memory for the bytes and tables of one rabbitmq-c call, freed when the call's scope ends.
final class BytesArena {
    private var allocations: [UnsafeMutableRawPointer] = []

    deinit {
        allocations.forEach { free($0) }
    }

    private func allocate(_ count: Int) -> UnsafeMutableRawPointer {
        guard let pointer = malloc(max(count, 1)) else { fatalError("out of memory") }
        allocations.append(pointer)
        return pointer
    }

    func bytes(_ text: String) -> amqp_bytes_t {
        bytes(Data(text.utf8))
    }

    func bytes(_ data: Data) -> amqp_bytes_t {
        let pointer = allocate(data.count)
        data.copyBytes(to: pointer.assumingMemoryBound(to: UInt8.self), count: data.count)
        return amqp_bytes_t(len: data.count, bytes: pointer)
    }

    func table(_ entries: [(String, TableValue)]) -> amqp_table_t {
        let storage = allocate(entries.count * MemoryLayout<amqp_table_entry_t>.stride)
            .bindMemory(to: amqp_table_entry_t.self, capacity: entries.count)
        for (index, (key, value)) in entries.enumerated() {
            switch value {
            case .string(let text): storage[index] = mgmt_amqp_table_entry_utf8(bytes(key), bytes(text))
            case .integer(let number): storage[index] = mgmt_amqp_table_entry_i64(bytes(key), number)
            }
        }
        return amqp_table_t(num_entries: Int32(entries.count), entries: storage)
    }
}

func withArena<R>(_ body: (BytesArena) throws -> R) rethrows -> R {
    let arena = BytesArena()
    return try withExtendedLifetime(arena) { try body(arena) }
}

/// Numbers connections so a delivery can be matched to the connection that may acknowledge it.
final class SerialCounter: @unchecked Sendable {
    private let lock = NSLock()
    private var value: UInt64 = 0

    func next() -> UInt64 {
        lock.lock()
        defer { lock.unlock() }
        value += 1
        return value
    }
}
