-- Polls (投票 / 意见征集).  A chat poll is a consultation, not the legally binding vote of an
-- owners' assembly.  Who voted (poll_voters) and what was chosen (poll_ballots) are kept apart:
-- for an open poll a ballot is keyed by the voter's key; for a secret poll (不公开) by a keyed hash
-- of the voter's key under the poll's random secret, which is dropped when the poll closes.
-- Neither table has a time or a rowid, so the order rows were written in tells nothing.
CREATE TABLE polls (
    id INTEGER PRIMARY KEY,
    author_id INTEGER NOT NULL REFERENCES people(id),
    question TEXT NOT NULL,
    options TEXT NOT NULL,                  -- JSON list of the options' texts (A, B, C … in order)
    buildings TEXT NOT NULL DEFAULT '[]',   -- JSON list of building keys in scope; [] = everyone
    chats TEXT NOT NULL DEFAULT '[]',       -- JSON list of chat keys it was posted to
    per_household INTEGER NOT NULL DEFAULT 1,  -- 1: one vote per registered unit; 0: per person
    secret INTEGER NOT NULL DEFAULT 0,      -- 1: 不公开
    secret_key BLOB,                        -- secret polls only, while open; NULL once closed
    lang TEXT NOT NULL DEFAULT 'zh',
    created_at REAL NOT NULL,
    closes_at REAL NOT NULL,
    remind_at REAL,                         -- when captains get the not-yet-voted list; NULL: done
    status TEXT NOT NULL DEFAULT 'open',    -- open | closed
    closed_at REAL,
    closed_by INTEGER REFERENCES people(id) -- NULL: closed by the deadline
);
CREATE INDEX polls_open ON polls(status, closes_at);

-- Who voted: one row per household (h:<building>/<unit>) or per person (p:<id>), no option.
CREATE TABLE poll_voters (
    poll_id INTEGER NOT NULL REFERENCES polls(id),
    voter TEXT NOT NULL,
    building TEXT,
    unit TEXT,
    person_id INTEGER NOT NULL REFERENCES people(id),  -- who cast the household's current vote
    PRIMARY KEY (poll_id, voter)
) WITHOUT ROWID;

-- What was chosen: ballot = the voter key (open polls) or HMAC(secret_key, voter) (secret polls).
CREATE TABLE poll_ballots (
    poll_id INTEGER NOT NULL REFERENCES polls(id),
    ballot TEXT NOT NULL,
    option INTEGER NOT NULL,
    PRIMARY KEY (poll_id, ballot)
) WITHOUT ROWID;
