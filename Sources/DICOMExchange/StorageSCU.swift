// Sending DICOM files to a peer (a PACS) by C-STORE.
import CDicomExchange
import Foundation

/// A peer application entity written `AE@host:port` (as MGMT_DICOM_DESTINATION is).
public struct DicomPeer: Sendable, Equatable, CustomStringConvertible {
    public let aeTitle: String
    public let host: String
    public let port: UInt16

    public init(aeTitle: String, host: String, port: UInt16) {
        self.aeTitle = aeTitle
        self.host = host
        self.port = port
    }

    /// Parses `AE@host:port`; nil if any part is missing or the port is not 1-65535.
    public init?(_ text: String) {
        guard let at = text.firstIndex(of: "@"), let colon = text.lastIndex(of: ":"), at < colon else { return nil }
        let ae = String(text[..<at]), host = String(text[text.index(after: at)..<colon])
        guard (1...16).contains(ae.count), !host.isEmpty, let port = UInt16(text[text.index(after: colon)...]), port > 0
        else { return nil }
        self.init(aeTitle: ae, host: host, port: port)
    }

    public var description: String { "\(aeTitle)@\(host):\(port)" }
}

/// A Storage SCU: one association per call, proposing each file's own transfer syntax.
public struct StorageSCU: Sendable {
    public var callingAETitle: String
    public var timeoutSeconds: Int

    public init(callingAETitle: String, timeoutSeconds: Int = 30) {
        self.callingAETitle = callingAETitle
        self.timeoutSeconds = timeoutSeconds
    }

    /// Sends the files in order; throws unless the peer stored every one (success or warning status).
    public func send(_ paths: [String], to peer: DicomPeer) throws(DicomExchangeError) {
        var error = mgmt_exchange_error()
        let status = withConfig(peer) { config in
            withCStrings(paths) { pointers in
                pointers.withUnsafeBufferPointer { mgmt_scu_send(&config, $0.baseAddress, $0.count, &error) }
            }
        }
        guard status == MGMT_EXCHANGE_OK else { throw DicomExchangeError(error) }
    }

    /// How a delivery retries a peer that is unreachable: `attempts` tries in all, waiting `initialDelay`
    /// seconds after the first failure and doubling up to `maximumDelay` (the fleet's MGMT_RETRY_BACKOFF rule).
    public struct RetryPolicy: Sendable {
        public var attempts: Int
        public var initialDelay: Double
        public var maximumDelay: Double

        public init(attempts: Int = 5, initialDelay: Double = 1, maximumDelay: Double = 60) {
            self.attempts = max(1, attempts)
            self.initialDelay = initialDelay
            self.maximumDelay = maximumDelay
        }
    }

    /// `send`, tried again while the failure is transient (peer down, association broken). A refusal (rejected
    /// association, declined SOP class, failure status) is final at once. Returns the number of attempts made;
    /// throws the last error with the attempts it took.
    @discardableResult
    public func send(_ paths: [String], to peer: DicomPeer, retrying policy: RetryPolicy) throws(DeliveryFailure) -> Int {
        var delay = policy.initialDelay
        for attempt in 1...policy.attempts {
            do {
                try send(paths, to: peer)
                return attempt
            } catch {
                guard error.isTransient, attempt < policy.attempts else { throw DeliveryFailure(error: error, attempts: attempt) }
                usleep(useconds_t(delay * 1_000_000))
                delay = min(delay * 2, policy.maximumDelay)
            }
        }
        preconditionFailure("the loop returns or throws")
    }

    /// A delivery that gave up: the last error and how many attempts were made.
    public struct DeliveryFailure: Error, Sendable, CustomStringConvertible {
        public let error: DicomExchangeError
        public let attempts: Int
        public var description: String { "\(error) (after \(attempts) attempt\(attempts == 1 ? "" : "s"))" }
    }

    /// C-ECHO: throws unless the peer answers with success.
    public func echo(_ peer: DicomPeer) throws(DicomExchangeError) {
        var error = mgmt_exchange_error()
        let status = withConfig(peer) { mgmt_scu_echo(&$0, &error) }
        guard status == MGMT_EXCHANGE_OK else { throw DicomExchangeError(error) }
    }

    private func withConfig<R>(_ peer: DicomPeer, _ body: (inout mgmt_scu_config) -> R) -> R {
        callingAETitle.withCString { calling in
            peer.aeTitle.withCString { called in
                peer.host.withCString { host in
                    var config = mgmt_scu_config(calling_ae_title: calling, called_ae_title: called, host: host,
                                                 port: peer.port, timeout_seconds: UInt32(clamping: timeoutSeconds))
                    return body(&config)
                }
            }
        }
    }
}
