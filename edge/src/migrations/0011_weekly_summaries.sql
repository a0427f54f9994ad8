-- The weekly summaries sent in the nudges' "weekly_summary" mode (docs/nudges.md): one row per week,
-- so a restart neither repeats nor skips one. Times in POSIX seconds UTC.
CREATE TABLE weekly_summaries (
    t_utc_s        REAL PRIMARY KEY,  -- when it was sent (record time)
    start_utc_s    REAL NOT NULL,     -- the 7 days it covers: [start_utc_s, t_utc_s)
    stressed_min   INTEGER NOT NULL,
    scored_min     INTEGER NOT NULL,
    nights         INTEGER NOT NULL,
    checkins       INTEGER NOT NULL,
    text           TEXT NOT NULL
);
