-- Satisfaction after a repair and anonymous reports (issue 15, parts 3 and 4).
-- A ticket confirmed by its reporter or closed by itself asks the reporter once to rate it (1-5;
-- 满意 = 4-5, 基本满意 = 3, 不满意 = 1-2).  ``handler_id`` is who resolved it (the captain the rating
-- counts for), set when the reporter is asked or rates.
CREATE TABLE IF NOT EXISTS ticket_satisfaction (
    ticket_id INTEGER PRIMARY KEY REFERENCES tickets(id),
    asked_at REAL,
    handler_id INTEGER REFERENCES people(id),
    rating INTEGER CHECK (rating BETWEEN 1 AND 5),
    rated_at REAL
);
CREATE INDEX IF NOT EXISTS ticket_satisfaction_rated ON ticket_satisfaction(rated_at)
    WHERE rating IS NOT NULL;
-- the closing sweep's question: recently closed tickets not asked yet
CREATE INDEX IF NOT EXISTS tickets_closed_at ON tickets(closed_at) WHERE status = 'closed';
-- 报修 匿名 …: the reporter's name and unit hidden from captains, groups and other residents
ALTER TABLE tickets ADD COLUMN anonymous INTEGER NOT NULL DEFAULT 0;
