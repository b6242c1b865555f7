-- The ledger (电子台账): one ordered log of every stored change; see the SQLite dialect's
-- 0006_ledger.sql for the kinds and columns. Positions are taken under a transaction-scoped
-- advisory lock (`store::ledger::LOG_LOCK`), so transactions commit in the order of their
-- positions and a reader of "after N" never sees N+2 before N+1 commits.
CREATE TABLE IF NOT EXISTS changes (
    seq          BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    kind         TEXT NOT NULL,
    item_id      TEXT,
    version      BIGINT NOT NULL,
    at           TEXT NOT NULL,
    recorded_at  TEXT NOT NULL,
    cause        TEXT NOT NULL,
    grade_from   TEXT,
    grade_to     TEXT,
    body         TEXT
);
CREATE UNIQUE INDEX IF NOT EXISTS changes_once ON changes (item_id, kind, version, at)
    WHERE kind <> 'quarantine';

ALTER TABLE items ADD COLUMN version BIGINT NOT NULL DEFAULT 1;

INSERT INTO changes (kind, item_id, version, at, recorded_at, cause, body)
SELECT 'version', i.item_id, 1, i.updated_at, i.changed_at, 'feed:' || i.feed,
       json_build_object(
           'item_id', i.item_id, 'project_code', i.project_code,
           'project_name', COALESCE(p.project_name, ''),
           'project_category', COALESCE(p.category, ''),
           'matter', i.matter, 'department', i.department, 'stage', i.stage,
           'status', i.status, 'accepted_at', i.accepted_at, 'limit_days', i.limit_days,
           'legal_days', i.legal_days, 'extension_days', i.extension_days,
           'pauses', COALESCE((SELECT json_agg(json_build_object('kind', kind, 'from', from_at, 'to', to_at) ORDER BY seq)
                               FROM pauses ps WHERE ps.item_id = i.item_id), '[]'::json),
           'finished_at', i.finished_at, 'updated_at', i.updated_at)::text
FROM items i LEFT JOIN projects p ON p.project_code = i.project_code
ORDER BY i.item_id;

INSERT INTO changes (kind, item_id, version, at, recorded_at, cause, grade_from, grade_to)
SELECT 'grade', item_id, 0, at, at, cause, previous, grade FROM grade_history ORDER BY id
ON CONFLICT (item_id, kind, version, at) WHERE kind <> 'quarantine' DO NOTHING;
DROP TABLE grade_history;

INSERT INTO changes (kind, item_id, version, at, recorded_at, cause, body)
SELECT 'deadline', item_id, 0, at, at, cause,
       json_build_object('previous', previous, 'deadline', deadline)::text
FROM deadline_changes ORDER BY id
ON CONFLICT (item_id, kind, version, at) WHERE kind <> 'quarantine' DO NOTHING;
DROP TABLE deadline_changes;
