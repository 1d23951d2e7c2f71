-- Whether a driver is available for offers (spec section 9, "Availability"): 1 once the driver
-- app's go-online, 0 after go-offline; a disabled driver is taken offline. (An integer, not a
-- BOOLEAN: sqlx's Any driver reads no SQLite booleans.)
ALTER TABLE drivers ADD COLUMN online BIGINT NOT NULL DEFAULT 0;
