import Foundation
import Logging
import ResultsStore
import XCTest

/// The servers the integration tests use: the real RabbitMQ and PostgreSQL named by the environment.
enum TestServers {
    static func amqpURL() throws -> String {
        guard let url = ProcessInfo.processInfo.environment["MGMT_AMQP_URL"], !url.isEmpty else {
            throw TestSetupError(message: "MGMT_AMQP_URL is not set: source scripts/env.sh (tests need the real RabbitMQ)")
        }
        return url
    }

    static func postgresConninfo() throws -> String {
        guard let conninfo = ProcessInfo.processInfo.environment["MGMT_PG_CONNINFO"], !conninfo.isEmpty else {
            throw TestSetupError(message: "MGMT_PG_CONNINFO is not set: source scripts/env.sh (tests need the real PostgreSQL)")
        }
        return conninfo
    }

    /// A unique lowercase name for queues and schemas, so that tests can share the servers.
    static func uniqueName(_ prefix: String) -> String {
        "\(prefix)_\(UUID().uuidString.prefix(8).lowercased())"
    }

    /// A fresh schema with the migrations applied; dropped by `dropSchema`.
    static func migratedSchema(_ prefix: String) throws -> (PostgresConnection, String) {
        let connection = try PostgresConnection(conninfo: try postgresConninfo())
        let schema = uniqueName(prefix)
        try ResultsSchema.migrate(connection, schema: schema, logger: Logger(label: "test"))
        return (connection, schema)
    }

    static func dropSchema(_ schema: String) {
        guard let conninfo = try? postgresConninfo(),
              let connection = try? PostgresConnection(conninfo: conninfo) else { return }
        _ = try? connection.execute("DROP SCHEMA IF EXISTS \"\(schema)\" CASCADE")
    }
}

/// Missing servers or tools fail a test (never skip it) with this message.
struct TestSetupError: Error, CustomStringConvertible {
    let message: String
    var description: String { message }
}
