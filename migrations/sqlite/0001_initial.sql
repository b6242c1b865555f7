-- duban store, SQLite dialect. Times are RFC 3339 text in UTC ("…Z"), so they sort as text.

CREATE TABLE IF NOT EXISTS items (
    item_id          TEXT PRIMARY KEY,
    project_code     TEXT NOT NULL,
    matter           TEXT NOT NULL,
    department       TEXT NOT NULL,
    stage            INTEGER NOT NULL,
    status           TEXT NOT NULL,
    accepted_at      TEXT NOT NULL,
    limit_days       INTEGER NOT NULL,
    legal_days       INTEGER NOT NULL,
    extension_days   INTEGER NOT NULL,
    finished_at      TEXT,
    updated_at       TEXT NOT NULL,
    -- The feed that last sent the record, and a hash of it: an unchanged record is skipped.
    feed             TEXT NOT NULL,
    record_hash      INTEGER NOT NULL,
    -- The current grading, kept with the item so that every reader sees the same.
    grade            TEXT NOT NULL,
    deadline_date    TEXT NOT NULL,
    allowed          INTEGER NOT NULL,
    used             INTEGER NOT NULL,
    remaining        INTEGER NOT NULL,
    overdue          INTEGER NOT NULL,
    paused           INTEGER NOT NULL,
    next_change      TEXT,
    first_seen_at    TEXT NOT NULL,
    changed_at       TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS items_department ON items (department, grade);
CREATE INDEX IF NOT EXISTS items_project ON items (project_code);
CREATE INDEX IF NOT EXISTS items_grade ON items (grade, status);

CREATE TABLE IF NOT EXISTS pauses (
    item_id  TEXT NOT NULL,
    seq      INTEGER NOT NULL,
    kind     TEXT NOT NULL,
    from_at  TEXT NOT NULL,
    to_at    TEXT,
    PRIMARY KEY (item_id, seq)
);

CREATE TABLE IF NOT EXISTS projects (
    project_code  TEXT PRIMARY KEY,
    project_name  TEXT NOT NULL,
    category      TEXT NOT NULL
);

CREATE TABLE IF NOT EXISTS departments (
    name  TEXT PRIMARY KEY
);

CREATE TABLE IF NOT EXISTS contacts (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    department  TEXT NOT NULL,
    name        TEXT NOT NULL,
    role        TEXT NOT NULL,
    phone       TEXT,
    email       TEXT
);

CREATE TABLE IF NOT EXISTS grade_history (
    id        INTEGER PRIMARY KEY AUTOINCREMENT,
    item_id   TEXT NOT NULL,
    at        TEXT NOT NULL,
    grade     TEXT NOT NULL,
    previous  TEXT,
    -- What changed it: "feed:<name>" for a new or changed record, "clock" for time passing.
    cause     TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS grade_history_item ON grade_history (item_id, id);

CREATE TABLE IF NOT EXISTS feed_runs (
    id            INTEGER PRIMARY KEY AUTOINCREMENT,
    feed          TEXT NOT NULL,
    started_at    TEXT NOT NULL,
    finished_at   TEXT NOT NULL,
    ok            INTEGER NOT NULL,
    records_in    INTEGER NOT NULL,
    records_ok    INTEGER NOT NULL,
    quarantined   INTEGER NOT NULL,
    unchanged     INTEGER NOT NULL,
    error         TEXT
);
CREATE INDEX IF NOT EXISTS feed_runs_feed ON feed_runs (feed, id);

CREATE TABLE IF NOT EXISTS feed_state (
    feed   TEXT PRIMARY KEY,
    -- The newest updated_at seen: the next run asks only for what changed since.
    since  TEXT
);

CREATE TABLE IF NOT EXISTS quarantine (
    id        INTEGER PRIMARY KEY AUTOINCREMENT,
    feed      TEXT NOT NULL,
    at        TEXT NOT NULL,
    item_id   TEXT,
    field     TEXT NOT NULL,
    reason    TEXT NOT NULL,
    raw       TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS quarantine_feed ON quarantine (feed, id);
