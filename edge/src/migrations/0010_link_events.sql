-- Device links (edge/src/link_log.py): every state change of a link — scanning, connecting,
-- streaming, backoff, stopped — with its reason and, for backoff, the wait; and every battery
-- reading. The live view shows both as they happen; these tables keep them for dashboards and
-- reports (how often a strap dropped, when its battery ran low). device_id may be a BLE address:
-- it stays in the local store like the beats do.
CREATE TABLE link_events (
    device_id   TEXT    NOT NULL,
    t_utc_s     REAL    NOT NULL,
    state       TEXT    NOT NULL,  -- vagus.edge.link_state.LinkState
    reason      TEXT,              -- "dropped", "connect failed: TimeoutError", "no data for 15 s", …
    retry_in_s  REAL               -- the wait of a backoff state
);
CREATE INDEX link_events_by_device_time ON link_events (device_id, t_utc_s);
CREATE TABLE battery_readings (
    device_id   TEXT    NOT NULL,
    t_utc_s     REAL    NOT NULL,
    level_pct   INTEGER NOT NULL CHECK (level_pct BETWEEN 0 AND 100),
    PRIMARY KEY (device_id, t_utc_s)
);
