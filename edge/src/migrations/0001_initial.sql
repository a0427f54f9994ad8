-- Beats: one row per heartbeat, kept for the configured retention.
CREATE TABLE beats (
    device_id   TEXT    NOT NULL,
    t_utc_s     REAL    NOT NULL,  -- end of the RR interval, POSIX seconds UTC
    rr_ms       REAL    NOT NULL,
    rr_1024     INTEGER,           -- raw 1/1024-s ticks where the source has them
    contact     INTEGER,           -- 1, 0, or NULL when the sensor does not report contact
    source      TEXT    NOT NULL,
    corrected   INTEGER NOT NULL DEFAULT 0,
    gap_before  INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY (device_id, t_utc_s)
) WITHOUT ROWID;

-- Indicators: one row per window; NULL values have their reason in null_reasons (JSON object).
CREATE TABLE indicators (
    device_id           TEXT NOT NULL,
    t_end_utc_s         REAL NOT NULL,
    t_start_utc_s       REAL NOT NULL,
    window_s            REAL NOT NULL,
    n_beats             INTEGER NOT NULL,
    quality             REAL NOT NULL,
    hr_bpm              REAL,
    mean_nn_ms          REAL,
    rmssd_ms            REAL,
    sdnn_ms             REAL,
    pnn50_pct           REAL,
    lf_ms2              REAL,
    hf_ms2              REAL,
    lf_hf               REAL,
    sd1_ms              REAL,
    sd2_ms              REAL,
    baevsky_si          REAL,
    breathing_rate_brpm REAL,
    stress_score        REAL,
    stress_level        TEXT,
    gate_reason         TEXT,
    activity_state      TEXT,
    null_reasons        TEXT NOT NULL DEFAULT '{}',
    PRIMARY KEY (device_id, t_end_utc_s)
) WITHOUT ROWID;

-- Payloads that failed to decode, set aside for diagnosis (no personal data beyond the bytes).
CREATE TABLE rejected_payloads (
    id              INTEGER PRIMARY KEY,
    device_id       TEXT NOT NULL,
    t_utc_s         REAL NOT NULL,
    characteristic  TEXT NOT NULL,
    payload_hex     TEXT NOT NULL,
    problem         TEXT NOT NULL,
    detail          TEXT NOT NULL
);
