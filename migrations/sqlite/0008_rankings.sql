-- Rankings (月度通报, 季度考核): the applicants' rating of an item (好差评, 1–5, where a feed
-- carries it), and the published reports, each kept as it was published (its figures and
-- items as JSON, with the digest of its inputs), so that opening one later shows what was
-- announced. A period published again is a new edition; the latest is the one shown.
ALTER TABLE items ADD COLUMN rating INTEGER;

CREATE TABLE IF NOT EXISTS reports (
    id            INTEGER PRIMARY KEY AUTOINCREMENT,
    period        TEXT NOT NULL,
    published_at  TEXT NOT NULL,
    published_by  TEXT NOT NULL,
    digest        TEXT NOT NULL,
    body          TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS reports_period ON reports (period, id);
