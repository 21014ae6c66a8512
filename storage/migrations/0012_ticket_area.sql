-- Common areas and urgency (issue "common areas, urgency"): a report about a place that is no
-- building (东门, 地下车库, 会所 …, from [areas] in the config) is filed for that area, and a report
-- that says someone is trapped, water is pouring, something burns … is marked urgent.
ALTER TABLE tickets ADD COLUMN area TEXT;
ALTER TABLE tickets ADD COLUMN urgent INTEGER NOT NULL DEFAULT 0;
CREATE INDEX IF NOT EXISTS tickets_area_status ON tickets(area, status, id) WHERE area IS NOT NULL;
