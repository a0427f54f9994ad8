-- Several trailing windows per device (60 s, 300 s, …) and the full set of HRV indices.
-- SQLite cannot change a primary key in place: build the new table, copy, swap.
CREATE TABLE indicators_new (
    device_id           TEXT NOT NULL,
    window_nominal_s    REAL NOT NULL,
    t_end_utc_s         REAL NOT NULL,
    t_start_utc_s       REAL NOT NULL,
    window_s            REAL NOT NULL,
    n_beats             INTEGER NOT NULL,
    quality             REAL NOT NULL,
    hr_bpm              REAL,
    mean_nn_ms          REAL,
    rmssd_ms            REAL,
    sdnn_ms             REAL,
    sdsd_ms             REAL,
    pnn50_pct           REAL,
    pnn20_pct           REAL,
    vlf_ms2             REAL,
    lf_ms2              REAL,
    hf_ms2              REAL,
    lf_hf               REAL,
    lfn_nu              REAL,
    hfn_nu              REAL,
    sd1_ms              REAL,
    sd2_ms              REAL,
    sd1_sd2             REAL,
    dfa_alpha1          REAL,
    baevsky_si          REAL,
    baevsky_si_sqrt     REAL,
    breathing_rate_brpm REAL,
    stress_score        REAL,
    stress_level        TEXT,
    gate_reason         TEXT,
    activity_state      TEXT,
    null_reasons        TEXT NOT NULL DEFAULT '{}',
    PRIMARY KEY (device_id, window_nominal_s, t_end_utc_s)
) WITHOUT ROWID;

-- Version-1 rows were all 60-s windows (the only window that version computed).
INSERT INTO indicators_new (
    device_id, window_nominal_s, t_end_utc_s, t_start_utc_s, window_s, n_beats, quality, hr_bpm, mean_nn_ms,
    rmssd_ms, sdnn_ms, pnn50_pct, lf_ms2, hf_ms2, lf_hf, sd1_ms, sd2_ms, baevsky_si, breathing_rate_brpm,
    stress_score, stress_level, gate_reason, activity_state, null_reasons
)
SELECT
    device_id, 60.0, t_end_utc_s, t_start_utc_s, window_s, n_beats, quality, hr_bpm, mean_nn_ms,
    rmssd_ms, sdnn_ms, pnn50_pct, lf_ms2, hf_ms2, lf_hf, sd1_ms, sd2_ms, baevsky_si, breathing_rate_brpm,
    stress_score, stress_level, gate_reason, activity_state, null_reasons
FROM indicators;

DROP TABLE indicators;
ALTER TABLE indicators_new RENAME TO indicators;
CREATE INDEX indicators_by_time ON indicators (t_end_utc_s);
