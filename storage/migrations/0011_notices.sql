-- Notices that must be confirmed (通知确认): each household confirms once (收到); the captains get the
-- units that have not confirmed after a while; confirmations in a group get one coalesced answer.
CREATE TABLE notices (
    id INTEGER PRIMARY KEY,
    author_id INTEGER NOT NULL REFERENCES people(id),
    text TEXT NOT NULL,
    buildings TEXT NOT NULL DEFAULT '[]',   -- JSON list of building keys; [] = the whole compound
    chats TEXT NOT NULL DEFAULT '[]',       -- JSON list of chat keys it was posted to
    created_at REAL NOT NULL,
    remind_at REAL                          -- when captains get the not-yet-confirmed list; NULL: done
);
CREATE INDEX notices_remind ON notices(remind_at) WHERE remind_at IS NOT NULL;

-- One row per household (h:<building>/<unit>) or, for someone not registered, per person (p:<id>).
CREATE TABLE notice_confirmations (
    notice_id INTEGER NOT NULL REFERENCES notices(id),
    household TEXT NOT NULL,
    building TEXT,
    unit TEXT,
    person_id INTEGER NOT NULL REFERENCES people(id),
    at REAL NOT NULL,
    PRIMARY KEY (notice_id, household)
) WITHOUT ROWID;

-- Per chat: when the next coalesced "N households confirmed" answer is due, and how many it last said.
CREATE TABLE notice_chats (
    notice_id INTEGER NOT NULL REFERENCES notices(id),
    chat_key TEXT NOT NULL,
    ack_due REAL,
    acked INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY (notice_id, chat_key)
) WITHOUT ROWID;
