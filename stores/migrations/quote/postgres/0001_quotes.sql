-- Fares quoted to customers (spec section 9). A quote is used once: used_by_call names the call it
-- priced. Times are RFC 3339 UTC text (they sort); the breakdown is JSON [{item, amount}].
CREATE TABLE IF NOT EXISTS quotes (
    quote_id     TEXT PRIMARY KEY,
    mobile       TEXT NOT NULL,
    location     TEXT NOT NULL,
    destination  TEXT NOT NULL,
    fare         BIGINT NOT NULL,
    breakdown    TEXT NOT NULL,
    created_at   TEXT NOT NULL,
    expires_at   TEXT NOT NULL,
    used_by_call TEXT,
    used_at      TEXT
);
CREATE INDEX IF NOT EXISTS quotes_by_expiry ON quotes (expires_at);
