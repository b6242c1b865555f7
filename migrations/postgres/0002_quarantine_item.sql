-- Quarantine entries are replaced and released by item: look them up by item.
CREATE INDEX IF NOT EXISTS quarantine_item ON quarantine (feed, item_id);
