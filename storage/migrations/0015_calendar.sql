-- Calendar feeds (日历链接): each person may have one private iCalendar URL for their shifts and
-- events, served by the office board at /calendar/<token>.ics.  The token is the capability (like an
-- unlisted calendar link in any calendar app): kept as is so asking again gives the same URL;
-- 日历链接 重置 replaces it, and the old URL stops working at once.
CREATE TABLE IF NOT EXISTS calendar_feeds (
    person_id INTEGER PRIMARY KEY REFERENCES people(id),
    token TEXT NOT NULL UNIQUE,
    created_at REAL NOT NULL
);
