-- What each payment worker's circuit breaker in front of the gateway says, reported every few
-- seconds, so the operations console can show it without knowing where the workers run.
CREATE TABLE IF NOT EXISTS gateway_circuits (
    worker      TEXT PRIMARY KEY,
    gateway     TEXT NOT NULL,
    circuit     TEXT NOT NULL,
    reported_at TEXT NOT NULL
);
