-- The payment gateway's id of each charge, so the ledger and the gateway can be reconciled.
ALTER TABLE payments ADD COLUMN charge_id TEXT;
