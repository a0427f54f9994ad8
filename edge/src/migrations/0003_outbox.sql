-- The sync outbox (docs/sync.md): a record waits here until the bridge confirms it is in the database.
-- One sequence per person: a random stream id (so a reset store never reuses confirmed numbers),
-- the next seq to give out, the highest seq confirmed, and how many records a full outbox dropped.
CREATE TABLE outbox_streams (
    person         TEXT    PRIMARY KEY,
    stream         TEXT    NOT NULL,
    next_seq       INTEGER NOT NULL DEFAULT 1,
    confirmed_seq  INTEGER NOT NULL DEFAULT 0,
    dropped_full   INTEGER NOT NULL DEFAULT 0
);

CREATE TABLE outbox (
    person         TEXT    NOT NULL,
    seq            INTEGER NOT NULL,
    kind           TEXT    NOT NULL,  -- the topic kind it is published under: summary, nudge
    payload        BLOB    NOT NULL,  -- the encoded message, re-sent byte for byte
    created_utc_s  REAL    NOT NULL,
    sent_utc_s     REAL,              -- last hand-over to the MQTT client; NULL: due now
    attempts       INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY (person, seq)
) WITHOUT ROWID;

CREATE INDEX outbox_by_sent ON outbox (person, sent_utc_s);
CREATE INDEX outbox_by_age ON outbox (kind, created_utc_s);

-- Secrets the sync path keeps on the device: the key that turns device ids (BLE addresses) into
-- pseudonyms before they leave it. Made once, here, and never sent anywhere.
CREATE TABLE sync_keys (
    name   TEXT PRIMARY KEY,
    value  BLOB NOT NULL
);
INSERT INTO sync_keys (name, value) VALUES ('device_pseudonym_key', randomblob(32));
