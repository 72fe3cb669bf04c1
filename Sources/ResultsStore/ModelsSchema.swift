extension ResultsSchema {
    /// Results by model (`Domain.ClassifierModel`): the 3D classifier beside the 2D one.
    ///
    /// - `series_predictions.model`, `patient_predictions.model`: `nfnet-lstm` (every earlier row) or `resnet3d`; one
    ///   row per (series, model) and (patient, model). A `resnet3d` series row has `n_chunks` 1 (its one volume) and
    ///   no segmentation weights; its patient row counts volumes in `n_chunks`.
    /// - `series.resnet3d_status`: NULL when the 3D model does not run on the series (no 3D weights for its type),
    ///   else `pending`, `classified` or `failed` (with `resnet3d_error`). A study is done when every series'
    ///   2D status and 3D status (where not NULL) is classified or failed.
    /// - `patient_predictions_by_model` (view): one row per patient, both models' probabilities side by side and
    ///   `mean_probability`, their mean over the models that have one (`n_models`), e.g.
    ///   `SELECT patient_id, nfnet_lstm, resnet3d, mean_probability FROM patient_predictions_by_model`.
    /// - `labelled_predictions` / `label_evaluation` keep their groups for the 2D model (`patient`, each MRI type)
    ///   and add `resnet3d:patient` and `resnet3d:<type>` for the 3D model.
    static let modelsMigration = Migration(version: 4, name: "predictions by model, the 3D classifier", statements: [
        """
        ALTER TABLE series
            ADD COLUMN resnet3d_status text CHECK (resnet3d_status IN ('pending', 'classified', 'failed')),
            ADD COLUMN resnet3d_error text
        """,
        """
        ALTER TABLE series_predictions
            ADD COLUMN model text NOT NULL DEFAULT 'nfnet-lstm' CHECK (model IN ('nfnet-lstm', 'resnet3d')),
            ALTER COLUMN segmentation_weights_sha256 DROP NOT NULL,
            DROP CONSTRAINT series_predictions_pkey,
            ADD PRIMARY KEY (series_instance_uid, model)
        """,
        """
        ALTER TABLE patient_predictions
            ADD COLUMN model text NOT NULL DEFAULT 'nfnet-lstm' CHECK (model IN ('nfnet-lstm', 'resnet3d')),
            DROP CONSTRAINT patient_predictions_pkey,
            ADD PRIMARY KEY (patient_id, model)
        """,
        """
        CREATE VIEW patient_predictions_by_model AS
            SELECT patient_id,
                   max(probability) FILTER (WHERE model = 'nfnet-lstm') AS nfnet_lstm,
                   max(probability) FILTER (WHERE model = 'resnet3d') AS resnet3d,
                   avg(probability) AS mean_probability,
                   count(probability) AS n_models,
                   max(computed_at) AS computed_at
            FROM patient_predictions GROUP BY patient_id
        """,
        """
        CREATE OR REPLACE VIEW studies_in_flight AS
            SELECT s.study_instance_uid, s.patient_id, s.source, s.received_at, s.n_series,
                   count(r.*) FILTER (WHERE r.status IN ('classified', 'failed')
                                      AND coalesce(r.resnet3d_status, 'classified') IN ('classified', 'failed'))
                       AS series_finished,
                   string_agg(r.mri_type || ':' || r.status || coalesce('+resnet3d:' || r.resnet3d_status, ''), ' '
                              ORDER BY r.mri_type) AS series_status
            FROM studies s LEFT JOIN series r USING (study_instance_uid)
            WHERE s.status = 'ingested'
            GROUP BY s.study_instance_uid
        """,
        """
        CREATE OR REPLACE VIEW labelled_predictions AS
            WITH predictions AS (
                SELECT CASE model WHEN 'nfnet-lstm' THEN 'patient' ELSE model || ':patient' END AS grp,
                       patient_key(patient_id) AS patient_key, probability
                FROM patient_predictions
                UNION ALL
                SELECT CASE model WHEN 'nfnet-lstm' THEN mri_type ELSE model || ':' || mri_type END,
                       patient_key(patient_id), avg(probability)
                FROM series_predictions GROUP BY model, mri_type, patient_key(patient_id)
            ), groups AS (
                SELECT 'patient'::text AS grp UNION SELECT DISTINCT grp FROM predictions
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
    ])
}
