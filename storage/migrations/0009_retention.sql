-- Retention ([retention] in the config, handlers/housekeeping.py): the tables that only grew are pruned
-- by age, a small batch at a time.  Each batch finds its rows by these indexes instead of reading the
-- whole table: inbound by arrival, finished outbox rows (sent or given up on; never pending or held)
-- by creation, the audit log by time.
CREATE INDEX IF NOT EXISTS inbound_received ON inbound(received_at);
CREATE INDEX IF NOT EXISTS outbox_done_created ON outbox(created_at) WHERE status IN ('sent', 'failed');
CREATE INDEX IF NOT EXISTS audit_at ON audit(at);
-- The weekly digest's volunteer hours (storage/volunteers.py hours_between) asked for the week's events
-- by reading every sign-up ever made (SCAN signups): by this index it starts from the week's events.
CREATE INDEX IF NOT EXISTS events_starts ON events(starts_at);
