-- Paced-breathing exercises (`vagus breathe`): when, at what pace, and what the heart did.
-- "before" is the last full 60-s window before the pacer started, "after" the last full 60-s
-- window of the pacing; lf_ms2 is the LF-band (0.04–0.15 Hz) power of those windows, where slow
-- breathing at ~6/min puts its resonance peak (signal.md §5).
CREATE TABLE breathing_exercises (
    exercise_id      INTEGER PRIMARY KEY,
    start_utc_s      REAL    NOT NULL,
    end_utc_s        REAL    NOT NULL,
    device_id        TEXT,
    rate_brpm        REAL    NOT NULL,
    inhale_share     REAL    NOT NULL,
    completed        INTEGER NOT NULL,  -- 1 if it ran the planned length, 0 if stopped early
    before_rmssd_ms  REAL,
    after_rmssd_ms   REAL,
    before_lf_ms2    REAL,
    after_lf_ms2     REAL,
    n_beats          INTEGER NOT NULL,  -- beats received during the pacing
    nudge_id         TEXT               -- the nudge it answered, if any
);
CREATE INDEX breathing_exercises_by_time ON breathing_exercises (start_utc_s);
