import Logging

/// The results schema, owned by the reporter: numbered migrations applied in order at start and recorded in
/// `schema_migrations`. A migration is never edited once released; changes go in a new one.
public enum ResultsSchema {
    public struct Migration: Sendable {
        public let version: Int
        public let name: String
        /// One statement each (libpq's parameterised execution takes a single statement).
        public let statements: [String]
    }

    public static let migrations: [Migration] = [
        Migration(version: 1, name: "results tables", statements: [
            """
            CREATE TABLE studies (
                study_instance_uid text PRIMARY KEY,
                patient_id text NOT NULL,
                source text,
                status text NOT NULL CHECK (status IN ('ingested', 'done', 'failed')),
                n_series integer NOT NULL DEFAULT 0,
                warnings text,
                error text,
                received_at timestamptz NOT NULL DEFAULT now(),
                updated_at timestamptz NOT NULL DEFAULT now()
            )
            """,
            """
            CREATE TABLE series (
                series_instance_uid text PRIMARY KEY,
                study_instance_uid text NOT NULL REFERENCES studies,
                patient_id text NOT NULL,
                mri_type text NOT NULL,
                slices_total integer,
                slices_kept integer,
                slices_selected integer,
                status text NOT NULL CHECK (status IN ('ingested', 'segmented', 'classified', 'failed')),
                error text,
                segmentation_weights_sha256 text,
                updated_at timestamptz NOT NULL DEFAULT now()
            )
            """,
            """
            CREATE INDEX series_by_study ON series (study_instance_uid)
            """,
            """
            CREATE INDEX series_by_patient ON series (patient_id)
            """,
            """
            CREATE TABLE chunk_predictions (
                series_instance_uid text NOT NULL REFERENCES series,
                chunk_index integer NOT NULL,
                first_instance integer,
                probability double precision NOT NULL,
                weights_sha256 text NOT NULL,
                segmentation_weights_sha256 text NOT NULL,
                computed_at timestamptz NOT NULL,
                PRIMARY KEY (series_instance_uid, chunk_index)
            )
            """,
            """
            CREATE TABLE series_predictions (
                series_instance_uid text PRIMARY KEY REFERENCES series,
                patient_id text NOT NULL,
                mri_type text NOT NULL,
                probability double precision,
                n_chunks integer NOT NULL,
                reason text,
                weights_sha256 text NOT NULL,
                segmentation_weights_sha256 text NOT NULL,
                computed_at timestamptz NOT NULL
            )
            """,
            """
            CREATE INDEX series_predictions_by_patient ON series_predictions (patient_id)
            """,
            """
            CREATE TABLE patient_predictions (
                patient_id text PRIMARY KEY,
                probability double precision,
                n_types integer NOT NULL,
                n_chunks integer NOT NULL,
                reason text,
                weights_sha256 text[] NOT NULL,
                computed_at timestamptz NOT NULL
            )
            """,
            """
            CREATE TABLE failures (
                id bigserial PRIMARY KEY,
                kind text NOT NULL CHECK (kind IN ('failed', 'dead-lettered')),
                stage text NOT NULL,
                job_id text NOT NULL,
                patient_id text,
                study_instance_uid text,
                series_instance_uid text,
                source text,
                queue text,
                reason text NOT NULL,
                body_excerpt text,
                first_seen timestamptz NOT NULL DEFAULT now(),
                last_seen timestamptz NOT NULL DEFAULT now(),
                UNIQUE (kind, stage, job_id)
            )
            """,
            """
            CREATE VIEW studies_in_flight AS
                SELECT s.study_instance_uid, s.patient_id, s.source, s.received_at, s.n_series,
                       count(r.*) FILTER (WHERE r.status IN ('classified', 'failed')) AS series_finished,
                       string_agg(r.mri_type || ':' || r.status, ' ' ORDER BY r.mri_type) AS series_status
                FROM studies s LEFT JOIN series r USING (study_instance_uid)
                WHERE s.status = 'ingested'
                GROUP BY s.study_instance_uid
            """,
        ]),
        Migration(version: 2, name: "dicom outputs", statements: [
            // The DICOM objects written for a study (a SEG per series, an SR per study) and their delivery.
            """
            CREATE TABLE dicom_outputs (
                sop_instance_uid text PRIMARY KEY,
                study_instance_uid text NOT NULL,
                series_instance_uid text NOT NULL,
                source_series_instance_uid text,
                kind text NOT NULL CHECK (kind IN ('SEG', 'SR')),
                store_key text NOT NULL,
                destination text,
                status text NOT NULL CHECK (status IN ('stored', 'sent', 'failed')),
                attempts integer NOT NULL DEFAULT 0,
                error text,
                sent_at timestamptz,
                updated_at timestamptz NOT NULL DEFAULT now()
            )
            """,
            """
            CREATE INDEX dicom_outputs_by_study ON dicom_outputs (study_instance_uid)
            """,
        ]),
        labelsMigration,
        modelsMigration,
        Migration(version: 5, name: "series artifacts for DICOM output", statements: [
            // Where each classified series' directory files are in the artifact store: the reporter hands them to
            // the DICOM edge when the study is complete (and again on `reporter resend`).
            """
            CREATE TABLE series_artifacts (
                series_instance_uid text NOT NULL REFERENCES series,
                file text NOT NULL,
                key text NOT NULL,
                sha256 text NOT NULL,
                PRIMARY KEY (series_instance_uid, file)
            )
            """,
        ]),
    ]

    /// Applies the migrations not yet recorded, each in its own transaction under an advisory lock, so that two
    /// reporters starting together apply each migration once. Returns the versions applied now.
    @discardableResult
    public static func migrate(_ connection: PostgresConnection, schema: String = "public", logger: Logger) throws
        -> [Int]
    {
        let schemaName = try quotedIdentifier(schema)
        try connection.execute("CREATE SCHEMA IF NOT EXISTS \(schemaName)", role: "create schema")
        try connection.execute("SET search_path TO \(schemaName)", role: "set search_path")
        try connection.execute("""
            CREATE TABLE IF NOT EXISTS schema_migrations (
                version integer PRIMARY KEY, name text NOT NULL, applied_at timestamptz NOT NULL DEFAULT now())
            """, role: "create schema_migrations")
        var applied: [Int] = []
        for migration in migrations {
            let didApply = try connection.withTransaction(role: "migration \(migration.version)") { transaction in
                try transaction.execute("SELECT pg_advisory_xact_lock(hashtext($1))", [schema], role: "migration lock")
                let existing = try transaction.execute(
                    "SELECT 1 FROM schema_migrations WHERE version = $1", [migration.version], role: "read migrations")
                guard existing.rows.isEmpty else { return false }
                for statement in migration.statements {
                    try transaction.execute(statement, role: "migration \(migration.version) (\(migration.name))")
                }
                try transaction.execute(
                    "INSERT INTO schema_migrations (version, name) VALUES ($1, $2)", [migration.version, migration.name],
                    role: "record migration")
                return true
            }
            if didApply {
                applied.append(migration.version)
                logger.info("applied migration", metadata: ["version": "\(migration.version)", "name": "\(migration.name)"])
            }
        }
        return applied
    }

    /// A schema name as an SQL identifier; only plain names (letters, digits, underscore) are accepted.
    public static func quotedIdentifier(_ name: String) throws -> String {
        guard let first = name.unicodeScalars.first, !("0"..."9").contains(first),
              name.unicodeScalars.allSatisfy({ ("a"..."z").contains($0) || ("0"..."9").contains($0) || $0 == "_" })
        else {
            throw PostgresError(kind: .invalidUse, message: "schema name must be lowercase letters, digits and _",
                                role: "schema name")
        }
        return "\"\(name)\""
    }
}
