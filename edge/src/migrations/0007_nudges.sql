-- Nudges (docs/nudges.md): every eligible moment the nudge policy found, delivered (sent = 1) or held
-- back at random for evaluation (sent = 0), with the indicators of that moment. Times in POSIX
-- seconds UTC. vagus report --nudges reads this table.
CREATE TABLE nudge_events (
    nudge_id      TEXT PRIMARY KEY,
    t_utc_s       REAL NOT NULL,
    device_id     TEXT,
    kind          TEXT NOT NULL,     -- slow_breathing | check_in
    sent          INTEGER NOT NULL,  -- 1 delivered, 0 held back (micro-randomised)
    holdback_p    REAL NOT NULL,     -- the hold-back probability in force at that moment
    stress_score  REAL,
    rmssd_ms      REAL,
    text          TEXT NOT NULL
);

CREATE INDEX nudge_events_time ON nudge_events (t_utc_s);

-- The policy's budget, snooze and wording rotation (NudgePolicy.state as JSON), so the daily cap,
-- the spacing and a snooze survive an agent restart. One row: this store belongs to one person.
CREATE TABLE nudge_state (
    id            INTEGER PRIMARY KEY CHECK (id = 1),
    state_json    TEXT NOT NULL,
    updated_utc_s REAL NOT NULL      -- the record time of the last change (the policy reads no clock)
);
