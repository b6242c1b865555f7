-- The ledger (电子台账): one ordered log of every stored change. `seq` is its position: a
-- consumer reads "everything after N". Kinds:
--   version     a new or changed record of an item (`body`: the canonical record as JSON),
--               `at` the record's updated_at (no later than when it was seen);
--   grade       a grade event (`grade_from` → `grade_to`), `at` the instant it took effect
--               (a clock change at its midnight, a feed change at the record's updated_at);
--   deadline    a deadline moved by the calendar (`body`: previous and new deadline);
--   quarantine  a record set aside (`body`: feed, field, reason).
-- `version` is the item's record version the change belongs to (0 for what was recorded
-- before the ledger existed, and for quarantine entries). `cause` is "feed:<name>",
-- "clock" or "calendar". A change is written once: the unique key below makes a repeat
-- impossible (quarantine entries are not keyed: each is its own).
CREATE TABLE IF NOT EXISTS changes (
    seq          INTEGER PRIMARY KEY AUTOINCREMENT,
    kind         TEXT NOT NULL,
    item_id      TEXT,
    version      INTEGER NOT NULL,
    at           TEXT NOT NULL,
    recorded_at  TEXT NOT NULL,
    cause        TEXT NOT NULL,
    grade_from   TEXT,
    grade_to     TEXT,
    body         TEXT
);
CREATE UNIQUE INDEX IF NOT EXISTS changes_once ON changes (item_id, kind, version, at)
    WHERE kind <> 'quarantine';

-- Each item's current record version (the `version` of its newest `version` change).
ALTER TABLE items ADD COLUMN version INTEGER NOT NULL DEFAULT 1;

-- What the store held before the ledger: each item's current record as its first version
-- (pauses included), then the grade history and the calendar's deadline moves, in the
-- order they were written.
INSERT INTO changes (kind, item_id, version, at, recorded_at, cause, body)
SELECT 'version', i.item_id, 1, i.updated_at, i.changed_at, 'feed:' || i.feed,
       json_object(
           'item_id', i.item_id, 'project_code', i.project_code,
           'project_name', COALESCE(p.project_name, ''),
           'project_category', COALESCE(p.category, ''),
           'matter', i.matter, 'department', i.department, 'stage', i.stage,
           'status', i.status, 'accepted_at', i.accepted_at, 'limit_days', i.limit_days,
           'legal_days', i.legal_days, 'extension_days', i.extension_days,
           'pauses', json((SELECT json_group_array(json_object('kind', kind, 'from', from_at, 'to', to_at))
                           FROM (SELECT kind, from_at, to_at FROM pauses ps
                                 WHERE ps.item_id = i.item_id ORDER BY seq))),
           'finished_at', i.finished_at, 'updated_at', i.updated_at)
FROM items i LEFT JOIN projects p ON p.project_code = i.project_code
ORDER BY i.item_id;

-- Two history rows of an item at the same instant are one event: the first is kept.
INSERT OR IGNORE INTO changes (kind, item_id, version, at, recorded_at, cause, grade_from, grade_to)
SELECT 'grade', item_id, 0, at, at, cause, previous, grade FROM grade_history ORDER BY id;
DROP TABLE grade_history;

INSERT OR IGNORE INTO changes (kind, item_id, version, at, recorded_at, cause, body)
SELECT 'deadline', item_id, 0, at, at, cause,
       json_object('previous', previous, 'deadline', deadline)
FROM deadline_changes ORDER BY id;
DROP TABLE deadline_changes;
