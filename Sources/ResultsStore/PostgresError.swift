/// A failure talking to PostgreSQL.
///
/// It names the statement's role (what the caller was doing, e.g. "upsert series") and carries PostgreSQL's
/// SQLSTATE and primary message, never the parameter values or the server's DETAIL line: both may hold patient
/// data (a unique violation's DETAIL repeats the key).
public struct PostgresError: Error, CustomStringConvertible, Sendable {
    public enum Kind: Sendable, Equatable {
        /// Opening (or resetting) the connection failed: wrong host, port, database, credentials, timeout.
        case connectionFailed
        /// The connection broke while in use; `PostgresConnection.reset()` tries to reopen it.
        case connectionLost
        /// The server rejected a statement; `sqlState` says why.
        case statementFailed
        /// The API was used in a way the connection cannot honour (e.g. a nested transaction).
        case invalidUse
        /// The conninfo can never work (unparseable, unknown sslmode, a named file unreadable): fix it, do not retry.
        case invalidConfiguration
    }

    public let kind: Kind
    /// The five-character SQLSTATE code (e.g. "23505"), when the server sent one.
    public let sqlState: String?
    public let message: String
    /// What the caller was doing: a statement's role or "connect".
    public let role: String

    public init(kind: Kind, sqlState: String? = nil, message: String, role: String) {
        self.kind = kind
        self.sqlState = sqlState
        self.message = message
        self.role = role
    }

    /// The connection is gone (lost mid-use, or the server says it is shutting down); reconnect before retrying.
    public var isConnectionLost: Bool {
        if kind == .connectionLost { return true }
        guard let sqlState else { return false }
        return sqlState.hasPrefix("08") || sqlState == SQLState.adminShutdown || sqlState == SQLState.crashShutdown
            || sqlState == SQLState.cannotConnectNow
    }

    /// Retrying the same work later may succeed: the server was unreachable or the transaction lost a race.
    public var isTransient: Bool {
        isConnectionLost || kind == .connectionFailed || sqlState == SQLState.serializationFailure
            || sqlState == SQLState.deadlockDetected
    }

    public var description: String {
        let code = sqlState.map { " [SQLSTATE \($0)]" } ?? ""
        switch kind {
        case .connectionFailed: return "PostgreSQL: cannot connect (\(role)): \(message)"
        case .connectionLost: return "PostgreSQL: connection lost during \(role): \(message)"
        case .statementFailed: return "PostgreSQL: \(role) failed\(code): \(message)"
        case .invalidUse: return "PostgreSQL: \(role): \(message)"
        case .invalidConfiguration: return "PostgreSQL: invalid connection settings: \(message)"
        }
    }
}

/// SQLSTATE codes callers act on (PostgreSQL manual, appendix A).
public enum SQLState {
    public static let uniqueViolation = "23505"
    public static let foreignKeyViolation = "23503"
    public static let notNullViolation = "23502"
    public static let serializationFailure = "40001"
    public static let deadlockDetected = "40P01"
    public static let inFailedTransaction = "25P02"
    public static let undefinedTable = "42P01"
    public static let adminShutdown = "57P01"
    public static let crashShutdown = "57P02"
    public static let cannotConnectNow = "57P03"
}

/// A row value could not be read as the requested Swift type. Names the column, never the value.
public enum PostgresRowError: Error, CustomStringConvertible, Sendable, Equatable {
    case noSuchColumn(String)
    case unexpectedNull(column: String)
    case notConvertible(column: String, to: String)

    public var description: String {
        switch self {
        case .noSuchColumn(let column): return "PostgreSQL result has no column \"\(column)\""
        case .unexpectedNull(let column): return "PostgreSQL column \"\(column)\" is NULL where a value is required"
        case .notConvertible(let column, let type): return "PostgreSQL column \"\(column)\" is not a valid \(type)"
        }
    }
}
