-- Warnings (预警): who may be told (contacts), what was decided and is to be sent (the
-- outbox, `messages`), every attempt at sending it, the providers' receipts, and the
-- departments' answers (回告) and the office's silences. Times are RFC 3339 text in UTC.

-- The contacts, replaced as a whole by each import (`duban contacts import`). `role` is
-- handler (经办人), head (负责人), office (督办办公室), steward (项目管家, with the
-- `project_code` they follow) or a rung of the escalation ladder (e.g. leader). `line` is
-- the contact's line in the file it was imported from.
-- 0001_initial made a `contacts` table of another shape (phone, no project or line) that no
-- release ever wrote to; it is dropped, or `IF NOT EXISTS` would keep it instead of this one.
DROP TABLE IF EXISTS contacts;
CREATE TABLE IF NOT EXISTS contacts (
    id            INTEGER PRIMARY KEY AUTOINCREMENT,
    role          TEXT NOT NULL,
    department    TEXT NOT NULL DEFAULT '',
    project_code  TEXT NOT NULL DEFAULT '',
    name          TEXT NOT NULL,
    mobile        TEXT NOT NULL DEFAULT '',
    email         TEXT NOT NULL DEFAULT '',
    line          INTEGER NOT NULL
);
CREATE INDEX IF NOT EXISTS contacts_department ON contacts (department, role);

-- Where the rules stand: `log` is the change-log position read, `schedule:<rule>` the last
-- scheduled instant run (so a missed 09:00 digest runs once after a restart, never twice).
CREATE TABLE IF NOT EXISTS warning_marks (
    name      TEXT PRIMARY KEY,
    position  INTEGER NOT NULL DEFAULT 0,
    at        TEXT
);

-- The outbox: one row a recipient, channel and rule run, written in the rule run's
-- transaction with the log position it read. `dedup_key` (recipient, channel, rule, items,
-- window) makes the same message impossible to write twice. `status`: pending (to send at
-- `not_before`), sent (accepted by the provider), delivered / undelivered (the provider's
-- receipt), failed (a permanent failure, or out of retries). A worker claims a pending row
-- by setting `lease_until`; a send recorded as accepted is never made again.
CREATE TABLE IF NOT EXISTS messages (
    id              INTEGER PRIMARY KEY AUTOINCREMENT,
    dedup_key       TEXT NOT NULL UNIQUE,
    rule            TEXT NOT NULL,
    department      TEXT NOT NULL DEFAULT '',
    channel         TEXT NOT NULL,
    sender          TEXT NOT NULL,
    role            TEXT NOT NULL,
    recipient       TEXT NOT NULL,
    address         TEXT NOT NULL,
    items           TEXT NOT NULL,
    subject         TEXT NOT NULL DEFAULT '',
    body            TEXT NOT NULL,
    created_at      TEXT NOT NULL,
    log_position    INTEGER NOT NULL,
    not_before      TEXT NOT NULL,
    held            INTEGER NOT NULL DEFAULT 0,
    status          TEXT NOT NULL,
    attempts        INTEGER NOT NULL DEFAULT 0,
    lease_until     TEXT,
    provider_id     TEXT,
    last_error      TEXT,
    sent_at         TEXT,
    receipt         TEXT,
    receipt_reason  TEXT,
    receipt_at      TEXT
);
CREATE INDEX IF NOT EXISTS messages_due ON messages (status, not_before);
CREATE INDEX IF NOT EXISTS messages_provider ON messages (provider_id);

-- Every attempt at sending a message: its outcome (accepted, retryable, permanent), the
-- provider's message id or error code, and what the provider answered.
CREATE TABLE IF NOT EXISTS attempts (
    id           INTEGER PRIMARY KEY AUTOINCREMENT,
    message_id   INTEGER NOT NULL,
    at           TEXT NOT NULL,
    outcome      TEXT NOT NULL,
    provider_id  TEXT,
    code         TEXT NOT NULL DEFAULT '',
    error        TEXT NOT NULL DEFAULT '',
    answer       TEXT NOT NULL DEFAULT ''
);
CREATE INDEX IF NOT EXISTS attempts_message ON attempts (message_id);

-- What each rule warned: an item once a rule and window (the deadline it was warned
-- for, or the day of a digest), whoever the messages went to.
CREATE TABLE IF NOT EXISTS warned_items (
    rule        TEXT NOT NULL,
    item_id     TEXT NOT NULL,
    window_key  TEXT NOT NULL,
    at          TEXT NOT NULL,
    PRIMARY KEY (rule, item_id, window_key)
);
CREATE INDEX IF NOT EXISTS warned_items_window ON warned_items (window_key);

-- Which items each message named (for the item page, and the filters of the audit).
CREATE TABLE IF NOT EXISTS message_items (
    message_id  INTEGER NOT NULL,
    item_id     TEXT NOT NULL,
    PRIMARY KEY (item_id, message_id)
);

-- A department's answer to a warning (回告) about an item, and the office's silences: each
-- stops the item's repeat warnings until `until` (a date), on record with who and when.
CREATE TABLE IF NOT EXISTS answers (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    kind        TEXT NOT NULL,
    item_id     TEXT NOT NULL,
    until       TEXT NOT NULL,
    reason      TEXT NOT NULL,
    by_whom     TEXT NOT NULL,
    at          TEXT NOT NULL,
    message_id  INTEGER
);
CREATE INDEX IF NOT EXISTS answers_item ON answers (item_id, at);
