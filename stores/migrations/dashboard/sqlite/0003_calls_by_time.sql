-- The operations console lists every customer's calls newest first (`GET /dashboards` with no
-- mobile), and counts them by status: without these, both read the whole table.
CREATE INDEX IF NOT EXISTS calls_by_time ON calls (created_at, call_id);
CREATE INDEX IF NOT EXISTS calls_by_status ON calls (status);
