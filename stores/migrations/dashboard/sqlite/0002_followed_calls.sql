-- The calls whose Temporal histories the dashboard follows to project their `projection` memos.
-- started_at_ms is the workflow's start time (the discovery checkpoint is the newest one);
-- finished_at is set once the history has closed and every batch in it is projected.
CREATE TABLE IF NOT EXISTS followed_calls (
    call_id       TEXT PRIMARY KEY,
    started_at_ms BIGINT NOT NULL,
    finished_at   TEXT
);
CREATE INDEX IF NOT EXISTS followed_calls_unfinished ON followed_calls (finished_at, started_at_ms);

-- One dashboard worker follows the histories at a time (the others stand by): the holder renews
-- its lease while it follows; another takes over once the lease has lapsed.
CREATE TABLE IF NOT EXISTS follower_lease (
    name          TEXT PRIMARY KEY,
    holder        TEXT NOT NULL,
    expires_at_ms BIGINT NOT NULL
);
