-- Who may sign in. token_generation is carried in every access token (`gen`): a token whose
-- generation is not its account's current one is revoked, so disabling a driver (which bumps it
-- and sets disabled_at) stops their tokens at once. Times are RFC 3339 UTC text (they sort).
CREATE TABLE IF NOT EXISTS customers (
    mobile           TEXT PRIMARY KEY,
    token_generation BIGINT NOT NULL DEFAULT 0,
    created_at       TEXT NOT NULL
);

CREATE TABLE IF NOT EXISTS drivers (
    username         TEXT PRIMARY KEY,
    name             TEXT NOT NULL,
    mobile           TEXT NOT NULL,
    password_hash    TEXT NOT NULL,
    areas            TEXT NOT NULL,
    disabled_at      TEXT,
    token_generation BIGINT NOT NULL DEFAULT 0,
    created_at       TEXT NOT NULL
);

CREATE TABLE IF NOT EXISTS operators (
    username         TEXT PRIMARY KEY,
    password_hash    TEXT NOT NULL,
    token_generation BIGINT NOT NULL DEFAULT 0,
    created_at       TEXT NOT NULL,
    updated_at       TEXT NOT NULL
);

-- The one live sign-in code of each number (a new one replaces it), stored only as a keyed hash.
-- code_id tells a replaced code from its successor, so a late answer cannot use the new one.
CREATE TABLE IF NOT EXISTS one_time_codes (
    mobile          TEXT PRIMARY KEY,
    code_id         TEXT NOT NULL,
    code_hash       TEXT NOT NULL,
    issued_at       TEXT NOT NULL,
    expires_at      TEXT NOT NULL,
    failed_attempts BIGINT NOT NULL DEFAULT 0,
    used_at         TEXT
);

-- The code requests the rate limit counts (per number, in a sliding window); older rows are
-- pruned as new ones come.
CREATE TABLE IF NOT EXISTS code_requests (
    request_id   INTEGER PRIMARY KEY AUTOINCREMENT,
    mobile       TEXT NOT NULL,
    requested_at TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS code_requests_by_mobile ON code_requests (mobile, requested_at);
