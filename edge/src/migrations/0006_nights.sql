-- Nights found by sleep detection (vagus.signal.sleep): one row per sleep period, written once the
-- person has been awake for a while after it. Times in POSIX seconds UTC.
CREATE TABLE nights (
    onset_utc_s    REAL PRIMARY KEY,
    wake_utc_s     REAL NOT NULL,
    asleep_min     INTEGER NOT NULL,
    lowest_hr_bpm  REAL,
    mean_hr_bpm    REAL,
    rmssd_ms       REAL,
    recovery       TEXT,   -- below | normal | above the nightly normal range; NULL while unknown
    recovery_sd    REAL
) WITHOUT ROWID;
