-- Every refresh token is written once and updated once, when it is consumed. With pages filled to
-- 85%, that update usually finds room on the token's own page and is a HOT update: no new entries
-- in the table's four indexes, and the rows of a busy table stop piling up dead index entries (see
-- BENCHMARKS.md, "Refresh in batches"). Pages already written keep their fill; new ones use this.
ALTER TABLE "refresh_tokens" SET (fillfactor = 85);
