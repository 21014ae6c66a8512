-- Announcements (通知): posted now, at a moment, or on a repeating rule.  The table is the source of
-- truth for what is scheduled: the sweep reads what is due, and a restart rebuilds nothing by hand.
CREATE TABLE announcements (
    id INTEGER PRIMARY KEY,
    author_id INTEGER NOT NULL REFERENCES people(id),
    chats TEXT NOT NULL,                  -- JSON list of chat keys
    text TEXT NOT NULL,
    urgent INTEGER NOT NULL DEFAULT 0,    -- 1: goes out even in quiet hours
    kind TEXT NOT NULL,                   -- 'once' (now or at a moment) or 'repeat'
    rule TEXT NOT NULL DEFAULT '',        -- for 'repeat': the cron fields as JSON
    rule_text TEXT NOT NULL DEFAULT '',   -- the time as the author typed it
    created_at REAL NOT NULL,
    next_run REAL,                        -- the next scheduled moment (NULL when finished)
    status TEXT NOT NULL DEFAULT 'active',-- active | done | cancelled
    cancelled_at REAL,
    cancelled_by INTEGER REFERENCES people(id)
);
CREATE INDEX announcements_due ON announcements(status, next_run);

-- One row per scheduled moment handled: sent (on time or late) or skipped.  The primary key makes
-- "at most once per moment" a property of the database, not of the sweep's care.
CREATE TABLE announcement_runs (
    announcement_id INTEGER NOT NULL REFERENCES announcements(id),
    due_at REAL NOT NULL,                 -- the scheduled moment
    handled_at REAL NOT NULL,             -- when the sweep sent or skipped it
    outcome TEXT NOT NULL,                -- 'sent', 'late' (sent within the grace window), 'skipped'
    messages INTEGER NOT NULL DEFAULT 0,  -- outbox rows written
    PRIMARY KEY (announcement_id, due_at)
);
