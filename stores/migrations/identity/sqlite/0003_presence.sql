-- When a driver was last heard from (a request, or their offers stream open): a driver online
-- but not heard from within PRESENCE_TIMEOUT is offline until they go online again.
ALTER TABLE drivers ADD COLUMN last_seen_at TEXT;

-- Every change to a driver's availability or account (online, offline, disabled), numbered in
-- commit order: each API process's offers feed tails it to update its open streams.
CREATE TABLE IF NOT EXISTS driver_changes (
    id       INTEGER PRIMARY KEY AUTOINCREMENT,
    username TEXT NOT NULL
);
