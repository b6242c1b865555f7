-- Deadlines moved by something other than the item's own record: "calendar" when a holiday
-- file added or corrected at start-up (next year's notice replacing its provisional
-- arrangement) moved the deadline of a running or finished item.
CREATE TABLE IF NOT EXISTS deadline_changes (
    id        INTEGER PRIMARY KEY AUTOINCREMENT,
    item_id   TEXT NOT NULL,
    at        TEXT NOT NULL,
    previous  TEXT NOT NULL,
    deadline  TEXT NOT NULL,
    cause     TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS deadline_changes_item ON deadline_changes (item_id, id);
