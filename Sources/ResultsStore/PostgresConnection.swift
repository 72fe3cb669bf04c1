import CLibPQ
import Foundation
import Logging

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// One libpq connection: parameterised statements, typed rows, transactions, errors with SQLSTATE.
///
/// libpq connections are not thread-safe, so every call holds a lock: threads sharing one connection take
/// turns, and a `withTransaction` body keeps the connection until it commits or rolls back. After an error whose
/// `isConnectionLost` is true, call `reset()` (or open a new connection) before retrying.
public final class PostgresConnection: @unchecked Sendable {
    private var connection: OpaquePointer?
    private let logger: Logger
    private let lock = NSRecursiveLock()

    /// Opens a connection from a conninfo string (`host=... dbname=...` or a `postgresql://` URI). A conninfo
    /// that can never work throws `invalidConfiguration` before any network traffic (`PostgresSettings`).
    ///
    /// Without a `connect_timeout` in `conninfo`, `defaultConnectTimeout` seconds applies, so an unreachable
    /// server fails within a bounded time instead of hanging on the TCP connect.
    public init(conninfo: String, defaultConnectTimeout: Int = 10, logger: Logger = Logger(label: "ResultsStore"))
        throws
    {
        self.logger = logger
        try PostgresSettings.check(conninfo: conninfo)
        // With expand_dbname, conninfo's own keywords override the ones listed before it: the timeout is a default.
        let keywords = ["connect_timeout", "dbname"]
        let values = [String(max(defaultConnectTimeout, 1)), conninfo]
        connection = withCStringArray(keywords) { keywordPointers in
            withCStringArray(values) { valuePointers in
                PQconnectdbParams(keywordPointers, valuePointers, 1)
            }
        }
        guard let connection, PQstatus(connection) == CONNECTION_OK else {
            let message = connection.map { lastErrorMessage($0) } ?? "out of memory"
            PQfinish(connection)
            self.connection = nil
            throw PostgresError(kind: .connectionFailed, message: message, role: "connect")
        }
        installNoticeLogger()
    }

    deinit {
        PQfinish(connection)
    }

    /// Whether the connection is currently usable (libpq's view: it notices a loss at the next statement).
    public var isConnected: Bool { locked { connection.map { PQstatus($0) == CONNECTION_OK } ?? false } }

    /// The server process serving this connection (for `pg_terminate_backend` in tests and logs).
    public var backendProcessID: Int32 { locked { connection.map { PQbackendPID($0) } ?? 0 } }

    /// Reopens the connection with the same parameters after a loss.
    public func reset() throws {
        lock.lock()
        defer { lock.unlock() }
        guard let connection else {
            throw PostgresError(kind: .invalidUse, message: "connection was never opened", role: "reset")
        }
        PQreset(connection)
        guard PQstatus(connection) == CONNECTION_OK else {
            throw PostgresError(kind: .connectionFailed, message: lastErrorMessage(connection), role: "reset")
        }
        installNoticeLogger()
        logger.info("PostgreSQL connection reset")
    }

    /// Runs one statement with `$1, $2, ...` parameters sent separately from the SQL text (never interpolated).
    ///
    /// - Parameter role: what the statement does, for errors and logs (e.g. "upsert series"); defaults to the SQL
    ///   text itself, which holds no values since they travel as parameters.
    @discardableResult
    public func execute(_ sql: String, _ parameters: [(any PostgresParameter)?] = [], role: String? = nil) throws
        -> PostgresResult
    {
        let role = role ?? Self.defaultRole(for: sql)
        lock.lock()
        defer { lock.unlock() }
        guard let connection else {
            throw PostgresError(kind: .invalidUse, message: "connection was never opened", role: role)
        }
        let texts = parameters.map { $0?.postgresText }
        let result = withOptionalCStringArray(texts) { pointers in
            PQexecParams(connection, sql, Int32(pointers.count), nil, pointers, nil, nil, 0)
        }
        defer { PQclear(result) }
        return try decodeResult(result, connection: connection, role: role)
    }

    /// Runs `body` inside BEGIN ... COMMIT. A thrown error rolls back and is rethrown unchanged; a failing COMMIT
    /// throws the server's error (the transaction is then rolled back by the server).
    @discardableResult
    public func withTransaction<T>(role: String = "transaction", _ body: (PostgresConnection) throws -> T) throws -> T {
        lock.lock()
        defer { lock.unlock() }
        if let connection, PQtransactionStatus(connection) != PQTRANS_IDLE {
            throw PostgresError(kind: .invalidUse, message: "a transaction is already open on this connection",
                                role: role)
        }
        try execute("BEGIN", role: "\(role): begin")
        let value: T
        do {
            value = try body(self)
        } catch {
            rollBackAfterFailure(role: role)
            throw error
        }
        // After a failed statement whose error the body caught, COMMIT would quietly roll back: say so instead.
        if let connection, PQtransactionStatus(connection) == PQTRANS_INERROR {
            rollBackAfterFailure(role: role)
            throw PostgresError(kind: .statementFailed, sqlState: SQLState.inFailedTransaction,
                                message: "a statement failed inside the transaction, so nothing was committed",
                                role: "\(role): commit")
        }
        try execute("COMMIT", role: "\(role): commit")
        return value
    }

    /// Runs several parameterless statements separated by semicolons in one round trip (e.g. a migration),
    /// as one implicit transaction unless the script itself says otherwise.
    public func executeScript(_ sql: String, role: String) throws {
        lock.lock()
        defer { lock.unlock() }
        guard let connection else {
            throw PostgresError(kind: .invalidUse, message: "connection was never opened", role: role)
        }
        let result = PQexec(connection, sql)
        defer { PQclear(result) }
        _ = try decodeResult(result, connection: connection, role: role)
    }

    private func locked<T>(_ body: () -> T) -> T {
        lock.lock()
        defer { lock.unlock() }
        return body()
    }

    private func rollBackAfterFailure(role: String) {
        guard isConnected else { return }  // the server ends the transaction itself when the connection dies
        do {
            try execute("ROLLBACK", role: "\(role): rollback")
        } catch {
            logger.warning("rollback failed", metadata: ["role": "\(role)", "error": "\(error)"])
        }
    }

    private func decodeResult(_ result: OpaquePointer?, connection: OpaquePointer, role: String) throws
        -> PostgresResult
    {
        guard let result else {
            // libpq returns no result only when it could not send the query (out of memory, connection gone).
            throw statementError(nil, connection: connection, role: role)
        }
        switch PQresultStatus(result) {
        case PGRES_COMMAND_OK, PGRES_EMPTY_QUERY:
            return PostgresResult(columns: [], rows: [], affectedRows: affectedRows(result))
        case PGRES_TUPLES_OK:
            return copyRows(result)
        default:
            throw statementError(result, connection: connection, role: role)
        }
    }

    private func statementError(_ result: OpaquePointer?, connection: OpaquePointer, role: String) -> PostgresError {
        let sqlState = result.flatMap { PQresultErrorField($0, MGMT_PG_DIAG_SQLSTATE) }.map { String(cString: $0) }
        if PQstatus(connection) != CONNECTION_OK {
            return PostgresError(kind: .connectionLost, sqlState: sqlState, message: lastErrorMessage(connection),
                                 role: role)
        }
        // The primary message only: DETAIL and the full error text can repeat the offending values.
        let message = result.flatMap { PQresultErrorField($0, MGMT_PG_DIAG_MESSAGE_PRIMARY) }
            .map { String(cString: $0) } ?? lastErrorMessage(connection)
        return PostgresError(kind: .statementFailed, sqlState: sqlState, message: message, role: role)
    }

    private func copyRows(_ result: OpaquePointer) -> PostgresResult {
        let columnCount = Int(PQnfields(result))
        let rowCount = Int(PQntuples(result))
        let columns = (0..<columnCount).map { String(cString: PQfname(result, Int32($0))) }
        var columnIndex: [String: Int] = [:]
        for (index, name) in columns.enumerated() where columnIndex[name] == nil { columnIndex[name] = index }
        let rows = (0..<rowCount).map { row in
            let values: [String?] = (0..<columnCount).map { column in
                PQgetisnull(result, Int32(row), Int32(column)) != 0
                    ? nil : String(cString: PQgetvalue(result, Int32(row), Int32(column)))
            }
            return PostgresRow(columnIndex: columnIndex, values: values)
        }
        return PostgresResult(columns: columns, rows: rows, affectedRows: affectedRows(result))
    }

    private func affectedRows(_ result: OpaquePointer) -> Int {
        Int(String(cString: PQcmdTuples(result))) ?? 0
    }

    /// Server notices ("relation already exists, skipping") go to the log instead of libpq's stderr default.
    private func installNoticeLogger() {
        guard let connection else { return }
        PQsetNoticeProcessor(connection, { context, message in
            guard let context, let message else { return }
            let owner = Unmanaged<PostgresConnection>.fromOpaque(context).takeUnretainedValue()
            owner.logger.debug("PostgreSQL notice", metadata: ["notice": "\(oneLine(String(cString: message)))"])
        }, Unmanaged.passUnretained(self).toOpaque())
    }

    private static func defaultRole(for sql: String) -> String {
        let flat = oneLine(sql)
        return flat.count > 80 ? String(flat.prefix(77)) + "..." : flat
    }
}

/// libpq's messages span lines ("...failed: Connection refused\n\tIs the server running..."): one line for logs.
func oneLine(_ text: String) -> String {
    text.split(whereSeparator: \.isNewline).map { $0.trimmingWhitespace() }.filter { !$0.isEmpty }
        .joined(separator: "; ")
}

private func lastErrorMessage(_ connection: OpaquePointer) -> String {
    let message = oneLine(String(cString: PQerrorMessage(connection)))
    return message.isEmpty ? "unknown libpq error" : message
}

extension Substring {
    fileprivate func trimmingWhitespace() -> String {
        String(drop(while: \.isWhitespace).reversed().drop(while: \.isWhitespace).reversed())
    }
}

/// Calls `body` with C strings for `strings`, followed by a terminating NULL, valid during the call.
private func withCStringArray<R>(_ strings: [String], _ body: ([UnsafePointer<CChar>?]) -> R) -> R {
    withOptionalCStringArray(strings.map { Optional($0) } + [nil], body)
}

/// Calls `body` with C strings for `strings` (nil stays NULL), valid during the call.
private func withOptionalCStringArray<R>(_ strings: [String?], _ body: ([UnsafePointer<CChar>?]) -> R) -> R {
    let copies: [UnsafeMutablePointer<CChar>?] = strings.map { $0.flatMap { strdup($0) } }
    defer { copies.forEach { free($0) } }
    return body(copies.map { $0.map { UnsafePointer($0) } })
}
