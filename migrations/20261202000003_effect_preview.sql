-- The rolled-back trial run of a version's effect, made when the version was written, as the
-- card shows it: how many rows it would change, or why it would fail.
ALTER TABLE request_versions ADD COLUMN preview jsonb;
