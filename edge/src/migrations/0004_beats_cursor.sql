-- Where the opt-in raw-beats export (docs/sync.md, [sync] raw_beats) stopped, per device: each stored
-- beat enters the outbox exactly once. The local device id never leaves the device.
CREATE TABLE outbox_beats_cursor (
    device_id  TEXT PRIMARY KEY,
    t_utc_s    REAL NOT NULL
) WITHOUT ROWID;
