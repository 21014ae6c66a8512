-- Which shifts the rotation made: re-setting a rota's rotation replaces those, and keeps one-off
-- shifts and shifts that were swapped or taken over. Shifts made before this column existed were
-- all replaced, as the rotation's own.
ALTER TABLE shifts ADD COLUMN made_by_rotation INTEGER NOT NULL DEFAULT 0;
UPDATE shifts SET made_by_rotation = 1;
