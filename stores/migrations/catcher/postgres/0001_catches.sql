-- Offers to drivers and their catches, one row per call.
CREATE TABLE IF NOT EXISTS catches (
    call_id     TEXT PRIMARY KEY,
    area        TEXT NOT NULL,
    location    TEXT NOT NULL,
    destination TEXT,
    pay_amount  BIGINT NOT NULL,
    status      TEXT NOT NULL,
    driver_id   TEXT,
    driver_name TEXT,
    received_at TEXT NOT NULL,
    updated_at  TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS catches_by_area_and_status ON catches (area, status);
