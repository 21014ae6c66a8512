-- Gathered acknowledgements (bot/quiet.py): a group reply of one kind (sign-ups to one event, 同问 on
-- one report) names its kind here; a later one of the same kind in the same chat joins the pending
-- row, or updates the sent one (platform_message_id) after a short hold.
ALTER TABLE outbox ADD COLUMN merge_key TEXT;
CREATE INDEX outbox_merge ON outbox(platform, address, merge_key, id) WHERE merge_key IS NOT NULL;
