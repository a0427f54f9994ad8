-- Check-ins: the person's own answers (stressed / not_stressed / need_help / snooze), each kept with the
-- indicators of that moment (the latest 60-s window ending within the 5 minutes before it; NULL if
-- none), so triggers and patterns can be seen and score-vs-self-report agreement can be measured.
-- edge/src/checkins.py writes and reads it.
CREATE TABLE checkins (
    checkin_id       TEXT PRIMARY KEY,
    t_utc_s          REAL NOT NULL,
    source           TEXT NOT NULL,   -- cli, companion, home_assistant, agent
    answer           TEXT NOT NULL,   -- stressed, not_stressed, need_help, snooze
    self_stress_1to5 INTEGER,
    nudge_id         TEXT,
    snooze_minutes   REAL,
    stress_score     REAL,
    stress_level     TEXT,
    gate_reason      TEXT,
    rmssd_ms         REAL,
    hr_bpm           REAL
);
CREATE INDEX checkins_by_time ON checkins (t_utc_s);

-- When the safety message (docs/safety.md) was shown: at most once per local day.
CREATE TABLE safety_shown (
    local_day TEXT PRIMARY KEY,       -- YYYY-MM-DD in the person's time zone
    t_utc_s   REAL NOT NULL,
    reason    TEXT NOT NULL           -- need_help, persistent_stress
);
