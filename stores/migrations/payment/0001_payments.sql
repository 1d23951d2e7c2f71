-- The payments ledger. One payment per call, enforced here: a retried approval finds the row
-- instead of charging again.
CREATE TABLE IF NOT EXISTS payments (
    payment_id      TEXT PRIMARY KEY,
    call_id         TEXT NOT NULL,
    idempotency_key TEXT NOT NULL,
    mobile          TEXT NOT NULL,
    pay_type        TEXT NOT NULL,
    pay_amount      BIGINT NOT NULL,
    status          TEXT NOT NULL,
    reason          TEXT,
    created_at      TEXT NOT NULL,
    updated_at      TEXT NOT NULL,
    CONSTRAINT payments_call_id_key UNIQUE (call_id),
    CONSTRAINT payments_idempotency_key UNIQUE (idempotency_key)
);
