-- duban store, PostgreSQL dialect. Times are RFC 3339 text in UTC ("…Z"), so they sort as text.

CREATE TABLE IF NOT EXISTS items (
    item_id          TEXT PRIMARY KEY,
    project_code     TEXT NOT NULL,
    matter           TEXT NOT NULL,
    department       TEXT NOT NULL,
    stage            BIGINT NOT NULL,
    status           TEXT NOT NULL,
    accepted_at      TEXT NOT NULL,
    limit_days       BIGINT NOT NULL,
    legal_days       BIGINT NOT NULL,
    extension_days   BIGINT NOT NULL,
    finished_at      TEXT,
    updated_at       TEXT NOT NULL,
    -- The feed that last sent the record, and a hash of it: an unchanged record is skipped.
    feed             TEXT NOT NULL,
    record_hash      BIGINT NOT NULL,
    -- The current grading, kept with the item so that every reader sees the same.
    grade            TEXT NOT NULL,
    deadline_date    TEXT NOT NULL,
    allowed          BIGINT NOT NULL,
    used             BIGINT NOT NULL,
    remaining        BIGINT NOT NULL,
    overdue          BIGINT NOT NULL,
    paused           BIGINT NOT NULL,
    next_change      TEXT,
    first_seen_at    TEXT NOT NULL,
    changed_at       TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS items_department ON items (department, grade);
CREATE INDEX IF NOT EXISTS items_project ON items (project_code);
CREATE INDEX IF NOT EXISTS items_grade ON items (grade, status);

CREATE TABLE IF NOT EXISTS pauses (
    item_id  TEXT NOT NULL,
    seq      BIGINT NOT NULL,
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
    id          BIGSERIAL PRIMARY KEY,
    department  TEXT NOT NULL,
    name        TEXT NOT NULL,
    role        TEXT NOT NULL,
    phone       TEXT,
    email       TEXT
);

CREATE TABLE IF NOT EXISTS grade_history (
    id        BIGSERIAL PRIMARY KEY,
    item_id   TEXT NOT NULL,
    at        TEXT NOT NULL,
    grade     TEXT NOT NULL,
    previous  TEXT,
    -- What changed it: "feed:<name>" for a new or changed record, "clock" for time passing.
    cause     TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS grade_history_item ON grade_history (item_id, id);

CREATE TABLE IF NOT EXISTS feed_runs (
    id            BIGSERIAL PRIMARY KEY,
    feed          TEXT NOT NULL,
    started_at    TEXT NOT NULL,
    finished_at   TEXT NOT NULL,
    ok            BIGINT NOT NULL,
    records_in    BIGINT NOT NULL,
    records_ok    BIGINT NOT NULL,
    quarantined   BIGINT NOT NULL,
    unchanged     BIGINT NOT NULL,
    error         TEXT
);
CREATE INDEX IF NOT EXISTS feed_runs_feed ON feed_runs (feed, id);

CREATE TABLE IF NOT EXISTS feed_state (
    feed   TEXT PRIMARY KEY,
    -- The newest updated_at seen: the next run asks only for what changed since.
    since  TEXT
);

CREATE TABLE IF NOT EXISTS quarantine (
    id        BIGSERIAL PRIMARY KEY,
    feed      TEXT NOT NULL,
    at        TEXT NOT NULL,
    item_id   TEXT,
    field     TEXT NOT NULL,
    reason    TEXT NOT NULL,
    raw       TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS quarantine_feed ON quarantine (feed, id);
