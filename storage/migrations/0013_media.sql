-- Photos kept, not just forwarded (issue 14): a photo a resident attached to a report is stored in
-- the media folder beside the database (storage/media.py) under the SHA-256 of its cleaned bytes;
-- its ticket_attachments row names the stored file.  stage: 'report' (sent with or after the report)
-- or 'after' (sent by whoever resolved it).  Rows from before keep media NULL (forwarded by id).
ALTER TABLE ticket_attachments ADD COLUMN media TEXT;
ALTER TABLE ticket_attachments ADD COLUMN stage TEXT NOT NULL DEFAULT 'report';
CREATE INDEX IF NOT EXISTS ticket_attachments_media ON ticket_attachments(media) WHERE media IS NOT NULL;
