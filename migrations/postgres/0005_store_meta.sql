-- What the store was last graded with (the holiday calendar's fingerprint, the time zone):
-- at start-up, a deadline that moved is the calendar's doing only if the calendar changed.
CREATE TABLE IF NOT EXISTS store_meta (
    key    TEXT PRIMARY KEY,
    value  TEXT NOT NULL
);
