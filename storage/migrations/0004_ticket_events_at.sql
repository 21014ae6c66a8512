-- The weekly digest asks, for each ticket, what its last status-changing event before a moment
-- was (storage/reports.py, "open at a moment"): an index by ticket and time answers that with one
-- seek instead of reading the ticket's whole history (5x faster digest on 50,000 tickets; see P5
-- in docs/bench-results.md).
CREATE INDEX IF NOT EXISTS ticket_events_ticket_at ON ticket_events(ticket_id, at);
