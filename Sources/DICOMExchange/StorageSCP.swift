// The fleet's DICOM receiver: a Storage SCP that writes each MR instance durably under an incoming root.
import CDicomExchange
import Foundation

/// An instance the SCP stored: on disk under `root/Study/Series/SOPInstanceUID.dcm` before its success status.
public struct StoredInstance: Sendable, Equatable {
    public let studyInstanceUid: String
    public let seriesInstanceUid: String
    public let sopInstanceUid: String
    public let path: String
    public let bytes: UInt64
}

/// Counts since the SCP started (for /metrics).
public struct StorageSCPCounters: Sendable, Equatable {
    public let associationsAccepted: UInt64
    public let associationsRejected: UInt64
    public let contextsDeclined: UInt64
    public let echoes: UInt64
    public let instancesStored: UInt64
    public let bytesStored: UInt64
    public let storesFailed: UInt64
    public let associationsActive: Int
}

/// A Storage SCP for MR Image Storage and Enhanced MR Image Storage in every transfer syntax DCMTK decodes
/// here (the rest are declined at negotiation), and Verification. Each association runs on its own thread.
public final class StorageSCP: @unchecked Sendable {
    public struct Configuration: Sendable {
        public var aeTitle: String
        /// The IPv4 address to listen on: this host only by default; "0.0.0.0" is every interface.
        public var bindAddress: String
        public var port: UInt16
        public var incomingRoot: String
        /// Calling AE titles allowed to associate; empty allows any.
        public var allowedCallingAETitles: [String]
        /// Peer IP addresses allowed to associate; empty allows any.
        public var allowedHosts: [String]
        public var maxAssociations: Int
        public var idleTimeoutSeconds: Int

        public init(aeTitle: String, bindAddress: String = "127.0.0.1", port: UInt16, incomingRoot: String,
                    allowedCallingAETitles: [String] = [], allowedHosts: [String] = [], maxAssociations: Int = 16,
                    idleTimeoutSeconds: Int = 60) {
            self.aeTitle = aeTitle
            self.bindAddress = bindAddress
            self.port = port
            self.incomingRoot = incomingRoot
            self.allowedCallingAETitles = allowedCallingAETitles
            self.allowedHosts = allowedHosts
            self.maxAssociations = maxAssociations
            self.idleTimeoutSeconds = idleTimeoutSeconds
        }
    }

    /// The transfer syntax UIDs accepted for storage.
    public static var storageTransferSyntaxes: [String] {
        (0..<mgmt_scp_storage_transfer_syntax_count()).compactMap { mgmt_scp_storage_transfer_syntax($0).map { String(cString: $0) } }
    }

    private let handle: OpaquePointer
    private let observer: Unmanaged<Observer>

    /// Holds the callback for the shim; called on association threads.
    private final class Observer {
        let onStored: @Sendable (StoredInstance) -> Void
        init(_ onStored: @escaping @Sendable (StoredInstance) -> Void) { self.onStored = onStored }
    }

    /// Starts listening. `onStored` runs on the association's thread after the instance is durable and before
    /// the success status is sent: keep it short.
    public init(_ configuration: Configuration, onStored: @escaping @Sendable (StoredInstance) -> Void = { _ in }) throws(DicomExchangeError) {
        let observer = Unmanaged.passRetained(Observer(onStored))
        var error = mgmt_exchange_error()
        let started: OpaquePointer? = withCStrings(configuration.allowedCallingAETitles) { titles in
            withCStrings(configuration.allowedHosts) { hosts in
                titles.withUnsafeBufferPointer { titles in
                    hosts.withUnsafeBufferPointer { hosts in
                        configuration.aeTitle.withCString { ae in
                            configuration.incomingRoot.withCString { root in configuration.bindAddress.withCString { address in
                                var config = mgmt_scp_config()
                                config.ae_title = ae
                                config.bind_address = address
                                config.port = configuration.port
                                config.incoming_root = root
                                config.allowed_calling_ae_titles = titles.baseAddress.map { UnsafePointer($0) }
                                config.allowed_calling_ae_title_count = titles.count
                                config.allowed_hosts = hosts.baseAddress.map { UnsafePointer($0) }
                                config.allowed_host_count = hosts.count
                                config.max_associations = UInt32(clamping: configuration.maxAssociations)
                                config.idle_timeout_seconds = UInt32(clamping: configuration.idleTimeoutSeconds)
                                config.on_stored = { context, study, series, sop, path, bytes in
                                    guard let context, let study, let series, let sop, let path else { return }
                                    let observer = Unmanaged<Observer>.fromOpaque(context).takeUnretainedValue()
                                    observer.onStored(StoredInstance(
                                        studyInstanceUid: String(cString: study), seriesInstanceUid: String(cString: series),
                                        sopInstanceUid: String(cString: sop), path: String(cString: path), bytes: bytes))
                                }
                                config.on_stored_context = observer.toOpaque()
                                return mgmt_scp_start(&config, &error)
                            } }
                        }
                    }
                }
            }
        }
        guard let started else {
            observer.release()
            throw DicomExchangeError(error)
        }
        self.handle = started
        self.observer = observer
    }

    /// Stops accepting and waits for the running associations to end.
    public func stop() {
        stopOnce.withLock { stopped in
            guard !stopped else { return }
            stopped = true
            mgmt_scp_stop(handle)
            observer.release()
        }
    }

    private let stopOnce = NSLock.Protected(false)

    deinit { stop() }

    public var counters: StorageSCPCounters {
        var c = mgmt_scp_counters()
        stopOnce.withLock { stopped in if !stopped { mgmt_scp_get_counters(handle, &c) } }
        return StorageSCPCounters(
            associationsAccepted: c.associations_accepted, associationsRejected: c.associations_rejected,
            contextsDeclined: c.contexts_declined, echoes: c.echoes, instancesStored: c.instances_stored,
            bytesStored: c.bytes_stored, storesFailed: c.stores_failed, associationsActive: Int(c.associations_active))
    }
}

extension NSLock {
    /// A value guarded by a lock.
    final class Protected<Value>: @unchecked Sendable {
        private let lock = NSLock()
        private var value: Value
        init(_ value: Value) { self.value = value }
        func withLock<R>(_ body: (inout Value) throws -> R) rethrows -> R {
            lock.lock()
            defer { lock.unlock() }
            return try body(&value)
        }
    }
}
