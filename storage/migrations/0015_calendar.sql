-- Calendar feeds (日历链接): each person may have one private iCalendar URL for their shifts and
-- events, served by the office board at /calendar/<token>.ics.  The token is the capability (like an
-- unlisted calendar link in any calendar app): kept as is so asking again gives the same URL;
-- 日历链接 重置 replaces it, and the old URL stops working at once.
CREATE TABLE IF NOT EXISTS calendar_feeds (
    person_id INTEGER PRIMARY KEY REFERENCES people(id),
    token TEXT NOT NULL UNIQUE,
    created_at REAL NOT NULL
);

-- The office board's counts by status (bench P9): kept by triggers, so the first page does not count
-- a million tickets on every visit.  Building '' is a ticket with no building yet.
CREATE TABLE IF NOT EXISTS ticket_status_counts (
    building TEXT NOT NULL,
    status TEXT NOT NULL,
    n INTEGER NOT NULL,
    PRIMARY KEY (building, status)
) WITHOUT ROWID;
INSERT INTO ticket_status_counts (building, status, n)
    SELECT COALESCE(building, ''), status, COUNT(*) FROM tickets
    GROUP BY COALESCE(building, ''), status;
CREATE TRIGGER IF NOT EXISTS ticket_counts_insert AFTER INSERT ON tickets BEGIN
    INSERT INTO ticket_status_counts (building, status, n)
        VALUES (COALESCE(NEW.building, ''), NEW.status, 1)
        ON CONFLICT (building, status) DO UPDATE SET n = n + 1;
END;
CREATE TRIGGER IF NOT EXISTS ticket_counts_update AFTER UPDATE OF status, building ON tickets
WHEN OLD.status IS NOT NEW.status OR OLD.building IS NOT NEW.building BEGIN
    UPDATE ticket_status_counts SET n = n - 1
        WHERE building = COALESCE(OLD.building, '') AND status = OLD.status;
    INSERT INTO ticket_status_counts (building, status, n)
        VALUES (COALESCE(NEW.building, ''), NEW.status, 1)
        ON CONFLICT (building, status) DO UPDATE SET n = n + 1;
END;
CREATE TRIGGER IF NOT EXISTS ticket_counts_delete AFTER DELETE ON tickets BEGIN
    UPDATE ticket_status_counts SET n = n - 1
        WHERE building = COALESCE(OLD.building, '') AND status = OLD.status;
END;
-- One status's tickets in number order (the board's list filtered to one status, e.g. closed).
CREATE INDEX IF NOT EXISTS tickets_status_id ON tickets(status, id);
