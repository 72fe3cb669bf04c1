extension ResultsSchema {
    /// Ground-truth labels and the evaluation against them in SQL, and the series preview's artifact key.
    ///
    /// - `patient_key(text)`: the join key of a patient id: an all-digit id without its leading zeros ("00012" and
    ///   "12" meet), any other id as written without surrounding whitespace (Swift: `Evaluation.PatientKey`).
    /// - `patient_labels`: `reporter labels load FILE` replaces its rows with the file's.
    /// - `labelled_predictions`: one row per (group, patient) for groups `patient` (patient_predictions) and each
    ///   MRI type (the mean of the patient's series of that type), with `outcome` one of `scored`,
    ///   `labelled without prediction`, `labelled without probability`, `predicted without label`.
    /// - `label_evaluation`: per group what `reporter evaluate` prints: AUROC with DeLong's standard error and 95 %
    ///   interval (midrank form), and the figures at probability ≥ 0.5, e.g.
    ///   `SELECT grp, n, auroc, auroc_ci_lower, auroc_ci_upper FROM label_evaluation`.
    static let labelsMigration = Migration(version: 3, name: "labels, evaluation views, series previews", statements: [
        """
        CREATE FUNCTION patient_key(id text) RETURNS text LANGUAGE sql IMMUTABLE STRICT AS $$
            SELECT CASE WHEN btrim(id, E' \\t\\r\\n') ~ '^[0-9]+$'
                        THEN coalesce(nullif(ltrim(btrim(id, E' \\t\\r\\n'), '0'), ''), '0')
                        ELSE btrim(id, E' \\t\\r\\n') END
        $$
        """,
        """
        CREATE TABLE patient_labels (
            patient_key text PRIMARY KEY,
            mgmt_value smallint NOT NULL CHECK (mgmt_value IN (0, 1)),
            loaded_from text,
            loaded_at timestamptz NOT NULL DEFAULT now()
        )
        """,
        """
        CREATE VIEW labelled_predictions AS
            WITH predictions AS (
                SELECT 'patient'::text AS grp, patient_key(patient_id) AS patient_key, probability
                FROM patient_predictions
                UNION ALL
                SELECT mri_type, patient_key(patient_id), avg(probability)
                FROM series_predictions GROUP BY mri_type, patient_key(patient_id)
            ), groups AS (
                SELECT 'patient'::text AS grp UNION SELECT DISTINCT mri_type FROM series_predictions
            ), labels AS (
                SELECT g.grp, l.patient_key, l.mgmt_value FROM groups g CROSS JOIN patient_labels l
            )
            SELECT coalesce(p.grp, l.grp) AS grp, coalesce(p.patient_key, l.patient_key) AS patient_key,
                   p.probability, l.mgmt_value,
                   CASE WHEN l.patient_key IS NULL THEN 'predicted without label'
                        WHEN p.patient_key IS NULL THEN 'labelled without prediction'
                        WHEN p.probability IS NULL THEN 'labelled without probability'
                        ELSE 'scored' END AS outcome
            FROM predictions p FULL JOIN labels l ON p.grp = l.grp AND p.patient_key = l.patient_key
        """,
        """
        CREATE VIEW label_evaluation AS
            WITH scored AS (
                SELECT grp, probability AS p, mgmt_value = 1 AS y FROM labelled_predictions WHERE outcome = 'scored'
            ), ranked AS (
                SELECT grp, p, y,
                       rank() OVER (PARTITION BY grp ORDER BY p) + (count(*) OVER (PARTITION BY grp, p) - 1) / 2.0 AS r_all,
                       rank() OVER (PARTITION BY grp, y ORDER BY p)
                           + (count(*) OVER (PARTITION BY grp, y, p) - 1) / 2.0 AS r_class,
                       count(*) FILTER (WHERE y) OVER (PARTITION BY grp) AS m,
                       count(*) FILTER (WHERE NOT y) OVER (PARTITION BY grp) AS n
                FROM scored
            ), placements AS (
                SELECT grp, p, y, CASE WHEN y THEN (r_all - r_class) / nullif(n, 0)
                                       ELSE 1 - (r_all - r_class) / nullif(m, 0) END AS v
                FROM ranked
            ), figures AS (
                SELECT grp, count(*) AS n, count(*) FILTER (WHERE y) AS positives, count(*) FILTER (WHERE NOT y) AS negatives,
                       avg(v) FILTER (WHERE y) AS auroc,
                       sqrt(coalesce(var_samp(v) FILTER (WHERE y), 0) / nullif(count(*) FILTER (WHERE y), 0)
                            + coalesce(var_samp(v) FILTER (WHERE NOT y), 0) / nullif(count(*) FILTER (WHERE NOT y), 0))
                           AS auroc_se,
                       count(*) FILTER (WHERE y AND p >= 0.5) AS tp, count(*) FILTER (WHERE NOT y AND p >= 0.5) AS fp,
                       count(*) FILTER (WHERE NOT y AND p < 0.5) AS tn, count(*) FILTER (WHERE y AND p < 0.5) AS fn
                FROM placements GROUP BY grp
            ), outcomes AS (
                SELECT grp, count(*) FILTER (WHERE outcome = 'labelled without prediction') AS labelled_without_prediction,
                       count(*) FILTER (WHERE outcome = 'labelled without probability') AS labelled_without_probability,
                       count(*) FILTER (WHERE outcome = 'predicted without label') AS predicted_without_label
                FROM labelled_predictions GROUP BY grp
            )
            SELECT o.grp, coalesce(f.n, 0) AS n, coalesce(f.positives, 0) AS positives, coalesce(f.negatives, 0) AS negatives,
                   f.auroc::float8 AS auroc, f.auroc_se::float8 AS auroc_se,
                   greatest(0, f.auroc - 1.959963984540054 * f.auroc_se)::float8 AS auroc_ci_lower,
                   least(1, f.auroc + 1.959963984540054 * f.auroc_se)::float8 AS auroc_ci_upper,
                   ((f.tp + f.tn)::float8 / nullif(f.n, 0)) AS accuracy,
                   (f.tp::float8 / nullif(f.positives, 0)) AS sensitivity,
                   (f.tn::float8 / nullif(f.negatives, 0)) AS specificity,
                   coalesce(f.tp, 0) AS tp, coalesce(f.fp, 0) AS fp, coalesce(f.tn, 0) AS tn, coalesce(f.fn, 0) AS fn,
                   o.labelled_without_prediction, o.labelled_without_probability, o.predicted_without_label
            FROM outcomes o LEFT JOIN figures f USING (grp)
        """,
        """
        ALTER TABLE series ADD COLUMN preview_key text, ADD COLUMN preview_sha256 text
        """,
    ])
}
