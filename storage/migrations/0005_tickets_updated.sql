-- The weekly digest's questions, as index searches (see storage/reports.py):
-- which tickets changed since a moment (to tell which were open then), and which were acknowledged
-- or resolved in a week.
CREATE INDEX IF NOT EXISTS tickets_updated ON tickets(updated_at);
CREATE INDEX IF NOT EXISTS tickets_acknowledged ON tickets(acknowledged_at) WHERE acknowledged_at IS NOT NULL;
CREATE INDEX IF NOT EXISTS tickets_resolved ON tickets(resolved_at) WHERE resolved_at IS NOT NULL;
