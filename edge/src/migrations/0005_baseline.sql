-- The person's learned baseline (vagus.signal.baseline.PersonalBaseline.to_dict as JSON), so the
-- stress score's reference survives restarts. One row: this store belongs to one person.
CREATE TABLE baseline (
    id            INTEGER PRIMARY KEY CHECK (id = 1),
    state_json    TEXT NOT NULL,
    updated_utc_s REAL NOT NULL
);
