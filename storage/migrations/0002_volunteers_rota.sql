-- Volunteers and duty rotas: events (one-off, or made from a weekly template) with sign-ups and
-- their waitlist, attendance and hours; rotas with members, shifts, swaps, time away, and a record
-- of the rota broadcasts already posted.  Times are Unix seconds (REAL), UTC.

CREATE TABLE event_templates (
    id INTEGER PRIMARY KEY,
    title TEXT NOT NULL,
    repeat TEXT NOT NULL,            -- what the coordinator typed, e.g. '每周日 9:00' (bot.when.parse_repeat)
    minutes INTEGER NOT NULL,        -- how long each event lasts
    place TEXT NOT NULL DEFAULT '',
    capacity INTEGER NOT NULL CHECK (capacity > 0),
    building TEXT,                   -- NULL: compound-wide
    created_by INTEGER REFERENCES people(id),
    created_at REAL NOT NULL,
    active INTEGER NOT NULL DEFAULT 1,
    made_until REAL NOT NULL         -- events of this template exist up to this moment
);

CREATE TABLE events (
    id INTEGER PRIMARY KEY,
    title TEXT NOT NULL,
    starts_at REAL NOT NULL,
    ends_at REAL NOT NULL,
    place TEXT NOT NULL DEFAULT '',
    capacity INTEGER NOT NULL CHECK (capacity > 0),
    building TEXT,                   -- NULL: compound-wide
    deadline REAL,                   -- sign-ups close here; NULL: at the start
    template_id INTEGER REFERENCES event_templates(id),
    status TEXT NOT NULL DEFAULT 'open',   -- open, cancelled
    created_by INTEGER REFERENCES people(id),
    created_at REAL NOT NULL,
    remind_eve_at REAL,              -- the evening-before reminder is due; NULL once sent or skipped
    remind_soon_at REAL,             -- the shortly-before reminder is due; NULL once sent or skipped
    advertise_at REAL,               -- the "places free" post is due; NULL once posted or skipped
    UNIQUE (template_id, starts_at)
);
CREATE INDEX events_status_starts ON events(status, starts_at);
CREATE INDEX events_remind_eve ON events(remind_eve_at) WHERE remind_eve_at IS NOT NULL;
CREATE INDEX events_remind_soon ON events(remind_soon_at) WHERE remind_soon_at IS NOT NULL;
CREATE INDEX events_advertise ON events(advertise_at) WHERE advertise_at IS NOT NULL;

CREATE TABLE signups (
    id INTEGER PRIMARY KEY,          -- arrival order: the waitlist is served in it
    event_id INTEGER NOT NULL REFERENCES events(id),
    person_id INTEGER NOT NULL REFERENCES people(id),
    status TEXT NOT NULL,            -- going, waiting, cancelled
    created_at REAL NOT NULL,
    updated_at REAL NOT NULL,
    attended INTEGER                 -- NULL: not recorded; 1: came; 0: did not come
);
CREATE UNIQUE INDEX signups_once ON signups(event_id, person_id) WHERE status != 'cancelled';
CREATE INDEX signups_event ON signups(event_id, status, id);
CREATE INDEX signups_person ON signups(person_id, status);

-- The capacity holds in the database itself, whatever the code above it does.
CREATE TRIGGER signups_capacity_insert BEFORE INSERT ON signups
WHEN NEW.status = 'going'
 AND (SELECT COUNT(*) FROM signups WHERE event_id = NEW.event_id AND status = 'going')
     >= (SELECT capacity FROM events WHERE id = NEW.event_id)
BEGIN
    SELECT RAISE(ABORT, 'event full');
END;

CREATE TRIGGER signups_capacity_update BEFORE UPDATE OF status ON signups
WHEN NEW.status = 'going' AND OLD.status != 'going'
 AND (SELECT COUNT(*) FROM signups WHERE event_id = NEW.event_id AND status = 'going')
     >= (SELECT capacity FROM events WHERE id = NEW.event_id)
BEGIN
    SELECT RAISE(ABORT, 'event full');
END;

CREATE TABLE rotas (
    id INTEGER PRIMARY KEY,
    key TEXT NOT NULL UNIQUE,        -- [rota.<key>] in the config, or the name of a rota made in chat
    name TEXT NOT NULL,
    building TEXT,                   -- NULL: compound-wide
    repeat TEXT,                     -- the days and start of shifts, e.g. '每天 08:00'; NULL: none yet
    minutes INTEGER,                 -- how long a shift lasts
    rotation TEXT NOT NULL DEFAULT 'daily',   -- daily: the next member each shift; weekly: each week
    next_index INTEGER NOT NULL DEFAULT 0,    -- whose turn is next, as a position among the members
    made_until REAL,                 -- shifts exist up to this moment
    created_at REAL NOT NULL
);

CREATE TABLE rota_members (
    rota_id INTEGER NOT NULL REFERENCES rotas(id),
    position INTEGER NOT NULL,
    person_id INTEGER NOT NULL REFERENCES people(id),
    PRIMARY KEY (rota_id, person_id)
) WITHOUT ROWID;

CREATE TABLE shifts (
    id INTEGER PRIMARY KEY,
    rota_id INTEGER NOT NULL REFERENCES rotas(id),
    starts_at REAL NOT NULL,
    ends_at REAL NOT NULL,
    person_id INTEGER REFERENCES people(id),  -- NULL while uncovered
    status TEXT NOT NULL DEFAULT 'assigned',  -- assigned, uncovered, cancelled
    released_by INTEGER REFERENCES people(id), -- who gave an uncovered shift up
    remind_at REAL,                  -- the reminder is due; NULL once sent or skipped
    UNIQUE (rota_id, starts_at)
);
CREATE INDEX shifts_person ON shifts(person_id, starts_at);
CREATE INDEX shifts_starts ON shifts(starts_at);
CREATE INDEX shifts_remind ON shifts(remind_at) WHERE remind_at IS NOT NULL;

CREATE TABLE swaps (
    id INTEGER PRIMARY KEY,
    shift_id INTEGER NOT NULL REFERENCES shifts(id),
    other_shift_id INTEGER REFERENCES shifts(id),  -- a trade: the shift the asker takes in return
    from_id INTEGER NOT NULL REFERENCES people(id),
    to_id INTEGER NOT NULL REFERENCES people(id),
    status TEXT NOT NULL,            -- asked, accepted (waits for approval), done, declined, refused
    created_at REAL NOT NULL,
    decided_at REAL
);
CREATE INDEX swaps_shift ON swaps(shift_id);

CREATE TABLE away (
    id INTEGER PRIMARY KEY,
    person_id INTEGER NOT NULL REFERENCES people(id),
    from_ts REAL NOT NULL,
    to_ts REAL NOT NULL,
    created_at REAL NOT NULL
);
CREATE INDEX away_person ON away(person_id, from_ts);

CREATE TABLE rota_broadcasts (
    rota_key TEXT NOT NULL,
    kind TEXT NOT NULL,              -- evening, morning, weekly
    due REAL NOT NULL,               -- the moment it was due: posted once per moment
    posted_at REAL NOT NULL,
    PRIMARY KEY (rota_key, kind, due)
) WITHOUT ROWID;
