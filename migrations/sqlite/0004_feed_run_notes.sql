-- What a run has to say besides its counts and error: files of a drop folder passed over
-- (a symbolic link), pages read record by record because the page as a whole was not
-- JSON. A JSON array of texts; NULL when there is nothing to say.
ALTER TABLE feed_runs ADD COLUMN notes TEXT;
