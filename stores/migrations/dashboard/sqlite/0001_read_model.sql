-- The myPage read model. event_id orders every event of the database (the per-customer stream's
-- cursor); (call_id, seq) makes projection idempotent; delivered_at is the webhook outbox.
CREATE TABLE IF NOT EXISTS timeline_events (
    event_id     INTEGER PRIMARY KEY AUTOINCREMENT,
    call_id      TEXT NOT NULL,
    seq          BIGINT NOT NULL,
    mobile       TEXT NOT NULL,
    event        TEXT NOT NULL,
    status       TEXT,
    at           TEXT NOT NULL,
    description  TEXT NOT NULL,
    delivered_at TEXT,
    CONSTRAINT timeline_events_call_seq UNIQUE (call_id, seq)
);
CREATE INDEX IF NOT EXISTS timeline_events_by_mobile ON timeline_events (mobile, event_id);
CREATE INDEX IF NOT EXISTS timeline_events_undelivered ON timeline_events (delivered_at, event_id);

CREATE TABLE IF NOT EXISTS calls (
    call_id    TEXT PRIMARY KEY,
    mobile     TEXT NOT NULL,
    status     TEXT NOT NULL,
    location   TEXT NOT NULL,
    pay_amount BIGINT NOT NULL,
    last_seq   BIGINT NOT NULL,
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS calls_by_mobile ON calls (mobile, created_at, call_id);
