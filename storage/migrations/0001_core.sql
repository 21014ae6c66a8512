-- The core: people and their platform identities, inbound de-duplication, tickets with their
-- history, followers and attachments, the audit trail, the outbox, pending prompts and a small
-- key-value store for adapters' state.  Times are Unix seconds (REAL), UTC.

CREATE TABLE people (
    id INTEGER PRIMARY KEY,
    key TEXT UNIQUE,                 -- the config key of a listed person; NULL for residents
    name TEXT NOT NULL,
    lang TEXT,                       -- 'zh' or 'en': the language they last wrote in
    building TEXT,                   -- registered building key
    unit TEXT,                       -- registered unit: private, never shown in groups
    phone TEXT,                      -- private, never shown in groups
    created_at REAL NOT NULL
);

CREATE TABLE identities (
    platform TEXT NOT NULL,
    external_id TEXT NOT NULL,
    person_id INTEGER NOT NULL REFERENCES people(id),
    last_seen REAL,
    PRIMARY KEY (platform, external_id)
) WITHOUT ROWID;
CREATE INDEX identities_person ON identities(person_id);

CREATE TABLE inbound (
    platform TEXT NOT NULL,
    chat_id TEXT NOT NULL,
    message_id TEXT NOT NULL,
    received_at REAL NOT NULL,
    person_id INTEGER,
    text TEXT,
    PRIMARY KEY (platform, chat_id, message_id)
) WITHOUT ROWID;

CREATE TABLE tickets (
    id INTEGER PRIMARY KEY,
    building TEXT,
    category TEXT NOT NULL,
    text TEXT NOT NULL,
    status TEXT NOT NULL,            -- draft, open, acknowledged, in_progress, resolved, closed, rejected
    reporter_id INTEGER NOT NULL REFERENCES people(id),
    platform TEXT NOT NULL,
    chat_id TEXT NOT NULL,
    chat_key TEXT,
    created_at REAL NOT NULL,
    updated_at REAL NOT NULL,
    awaiting_since REAL,             -- since when it waits for acknowledgement (reset on reopen)
    acknowledged_at REAL,
    resolved_at REAL,
    closed_at REAL,
    escalation_level INTEGER NOT NULL DEFAULT 0,
    escalate_at REAL,                -- when the next escalation is due; NULL when none is
    close_at REAL,                   -- when a resolved ticket closes itself; NULL otherwise
    duplicate_of INTEGER REFERENCES tickets(id),
    reopen_count INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX tickets_building_status ON tickets(building, status, id);
CREATE INDEX tickets_reporter ON tickets(reporter_id, id);
CREATE INDEX tickets_status_created ON tickets(status, created_at);
CREATE INDEX tickets_created ON tickets(created_at);
CREATE INDEX tickets_escalate ON tickets(escalate_at) WHERE escalate_at IS NOT NULL;
CREATE INDEX tickets_close ON tickets(close_at) WHERE close_at IS NOT NULL;

CREATE TABLE ticket_events (
    id INTEGER PRIMARY KEY,
    ticket_id INTEGER NOT NULL REFERENCES tickets(id),
    at REAL NOT NULL,
    actor_id INTEGER REFERENCES people(id),   -- NULL: the bot itself (escalation, auto-close)
    action TEXT NOT NULL,
    note TEXT NOT NULL DEFAULT '',
    platform TEXT
);
CREATE INDEX ticket_events_ticket ON ticket_events(ticket_id, id);

CREATE TABLE ticket_followers (
    ticket_id INTEGER NOT NULL REFERENCES tickets(id),
    person_id INTEGER NOT NULL REFERENCES people(id),
    since REAL NOT NULL,
    PRIMARY KEY (ticket_id, person_id)
) WITHOUT ROWID;
CREATE INDEX ticket_followers_person ON ticket_followers(person_id);

CREATE TABLE ticket_attachments (
    id INTEGER PRIMARY KEY,
    ticket_id INTEGER NOT NULL REFERENCES tickets(id),
    platform TEXT NOT NULL,
    kind TEXT NOT NULL,
    file_id TEXT NOT NULL,
    at REAL NOT NULL
);
CREATE INDEX ticket_attachments_ticket ON ticket_attachments(ticket_id);

CREATE TABLE audit (
    id INTEGER PRIMARY KEY,
    at REAL NOT NULL,
    actor_id INTEGER,
    platform TEXT,
    action TEXT NOT NULL,
    target TEXT NOT NULL DEFAULT '',
    detail TEXT NOT NULL DEFAULT ''
);
CREATE INDEX audit_target ON audit(target);

CREATE TABLE outbox (
    id INTEGER PRIMARY KEY,
    created_at REAL NOT NULL,
    platform TEXT NOT NULL,
    address TEXT NOT NULL,
    kind TEXT NOT NULL,              -- 'group' or 'private'
    person_id INTEGER,
    chat_key TEXT,
    body TEXT NOT NULL,              -- JSON: text, buttons, buttons_hint, attachments, mention_ids
    ref TEXT NOT NULL DEFAULT '',    -- what it is about, e.g. 'ticket:12'
    status TEXT NOT NULL DEFAULT 'pending',   -- pending, sent, failed
    attempts INTEGER NOT NULL DEFAULT 0,
    next_attempt_at REAL NOT NULL,
    sent_at REAL,
    platform_message_id TEXT,
    last_error TEXT
);
CREATE INDEX outbox_pending ON outbox(platform, next_attempt_at) WHERE status = 'pending';
CREATE INDEX outbox_ref ON outbox(ref);

CREATE TABLE prompts (
    person_id INTEGER NOT NULL,
    platform TEXT NOT NULL,
    chat_id TEXT NOT NULL,
    kind TEXT NOT NULL,              -- which handler answers the reply
    payload TEXT NOT NULL DEFAULT '{}',
    expires_at REAL NOT NULL,
    PRIMARY KEY (person_id, platform, chat_id)
) WITHOUT ROWID;

CREATE TABLE kv (
    key TEXT PRIMARY KEY,
    value TEXT NOT NULL
) WITHOUT ROWID;
