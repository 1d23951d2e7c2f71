-- A partial refund (a cancellation or no-show fee kept): how much was given back and how much
-- kept. Both stay NULL unless the payment is PARTIALLY_REFUNDED.
ALTER TABLE payments ADD COLUMN refunded_amount BIGINT NULL;
ALTER TABLE payments ADD COLUMN fee BIGINT NULL;
