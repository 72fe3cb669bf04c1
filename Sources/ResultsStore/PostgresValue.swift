/// A Swift value sent as a statement parameter in PostgreSQL's text format (`nil` is sent as NULL).
public protocol PostgresParameter: Sendable {
    var postgresText: String { get }
}

/// A Swift type a column's text value can be read as.
public protocol PostgresColumnDecodable {
    init?(postgresText: String)
}

extension String: PostgresParameter, PostgresColumnDecodable {
    public var postgresText: String { self }
    public init?(postgresText: String) { self = postgresText }
}

extension Int: PostgresParameter, PostgresColumnDecodable {
    public var postgresText: String { String(self) }
    public init?(postgresText: String) { self.init(postgresText) }
}

extension Int64: PostgresParameter, PostgresColumnDecodable {
    public var postgresText: String { String(self) }
    public init?(postgresText: String) { self.init(postgresText) }
}

extension Int32: PostgresParameter, PostgresColumnDecodable {
    public var postgresText: String { String(self) }
    public init?(postgresText: String) { self.init(postgresText) }
}

extension Double: PostgresParameter, PostgresColumnDecodable {
    /// Swift prints the shortest text that reads back as the same Double; PostgreSQL spells the specials its way.
    public var postgresText: String {
        if isNaN { return "NaN" }
        if isInfinite { return self < 0 ? "-Infinity" : "Infinity" }
        return description
    }

    public init?(postgresText: String) {
        switch postgresText {
        case "NaN": self = .nan
        case "Infinity": self = .infinity
        case "-Infinity": self = -.infinity
        default: self.init(postgresText)
        }
    }
}

extension Bool: PostgresParameter, PostgresColumnDecodable {
    public var postgresText: String { self ? "t" : "f" }

    public init?(postgresText: String) {
        switch postgresText {
        case "t", "true": self = true
        case "f", "false": self = false
        default: return nil
        }
    }
}

/// One row of a result, values copied out of libpq (text format; NULL is nil).
public struct PostgresRow: Sendable {
    let columnIndex: [String: Int]
    let values: [String?]

    /// The raw text of a column, nil for NULL.
    public func text(_ column: String) throws -> String? {
        guard let index = columnIndex[column] else { throw PostgresRowError.noSuchColumn(column) }
        return values[index]
    }

    public func isNull(_ column: String) throws -> Bool { try text(column) == nil }

    /// A non-NULL column as `T`; NULL or unparsable text is an error naming the column.
    public func value<T: PostgresColumnDecodable>(_ column: String, as type: T.Type = T.self) throws -> T {
        guard let value = try optionalValue(column, as: type) else {
            throw PostgresRowError.unexpectedNull(column: column)
        }
        return value
    }

    /// A column as `T`, nil for NULL; unparsable text is an error naming the column.
    public func optionalValue<T: PostgresColumnDecodable>(_ column: String, as type: T.Type = T.self) throws -> T? {
        guard let text = try text(column) else { return nil }
        guard let value = T(postgresText: text) else {
            throw PostgresRowError.notConvertible(column: column, to: String(describing: T.self))
        }
        return value
    }

    public func string(_ column: String) throws -> String { try value(column) }
    public func int(_ column: String) throws -> Int { try value(column) }
    public func double(_ column: String) throws -> Double { try value(column) }
    public func bool(_ column: String) throws -> Bool { try value(column) }
}

/// The outcome of one statement: its rows (copied, so the result outlives libpq's buffer) and the affected count.
public struct PostgresResult: Sendable {
    public let columns: [String]
    public let rows: [PostgresRow]
    /// Rows inserted, updated or deleted (0 for statements that report none).
    public let affectedRows: Int
}
