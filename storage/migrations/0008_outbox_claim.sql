-- Who is sending an outbox row, and until when: a dispatcher claims a pending row before it sends it
-- (storage/outbox.py, Outbox.claim), so two dispatchers on one database never send one row twice.
-- A claim lapses at claimed_until (Unix seconds, wall clock): a crashed dispatcher's rows go again.
ALTER TABLE outbox ADD COLUMN claimed_by TEXT;
ALTER TABLE outbox ADD COLUMN claimed_until REAL;
