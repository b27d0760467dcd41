-- `psql -h 127.0.0.1 -U postgres -f bench/time-ordered-ids.sql`: what random and time-ordered ids
-- cost a table shaped like refresh_tokens once its indexes outgrow shared buffers (the default
-- 128 MB). Two tables of 2M rows, written in time order over 20 days as the service would write
-- them: one with random UUIDs (version 4) for id, parent_id and session_id, one with UUIDv7 (as
-- src/core/time-ordered-ids.ts makes them). Then 20,000 rows more into each, twice, alternately,
-- with the blocks each insert read from outside shared buffers and dirtied. token_hash is random on
-- both sides: it is the SHA-256 of a random token. The scratch database is dropped at the end.
DROP DATABASE IF EXISTS time_ordered_ids_bench;
CREATE DATABASE time_ordered_ids_bench;
\c time_ordered_ids_bench
CREATE FUNCTION v7(at timestamptz) RETURNS uuid LANGUAGE sql AS $$
  SELECT (lpad(to_hex((extract(epoch FROM at) * 1000)::bigint), 12, '0') || '7' || substr(md5(random()::text), 1, 3) || '8' || substr(md5(random()::text), 1, 15))::uuid $$;
CREATE TABLE random_ids (id uuid PRIMARY KEY, session_id uuid NOT NULL, token_hash text UNIQUE NOT NULL, parent_id uuid UNIQUE,
  created_at timestamp NOT NULL, consumed_at timestamp, expires_at timestamp NOT NULL);
CREATE INDEX ON random_ids (session_id);
CREATE TABLE ordered_ids (LIKE random_ids INCLUDING ALL);
-- Sessions of 10 tokens each on the ordered side; the session's id is the time it started.
INSERT INTO random_ids SELECT gen_random_uuid(), gen_random_uuid(), encode(sha256(('r' || g)::bytea), 'base64'), gen_random_uuid(),
  now() - interval '20 days' + g * interval '864 ms', NULL, now() + interval '1 day' FROM generate_series(1, 2000000) g;
INSERT INTO ordered_ids SELECT v7(now() - interval '20 days' + g * interval '864 ms'), v7(now() - interval '20 days' + (g / 10) * interval '8640 ms'),
  encode(sha256(('o' || g)::bytea), 'base64'), v7(now() - interval '20 days' + (g - 1) * interval '864 ms'),
  now() - interval '20 days' + g * interval '864 ms', NULL, now() + interval '1 day' FROM generate_series(1, 2000000) g;
VACUUM ANALYZE random_ids, ordered_ids;
SELECT relname, pg_size_pretty(pg_relation_size(oid)) AS size FROM pg_class WHERE relname ~ '^(random|ordered)_ids' ORDER BY 1;
\set random_insert 'EXPLAIN (ANALYZE, BUFFERS, COSTS OFF, TIMING OFF) INSERT INTO random_ids SELECT gen_random_uuid(), gen_random_uuid(), encode(sha256((''r'' || g || random())::bytea), ''base64''), gen_random_uuid(), now(), NULL, now() + interval ''1 day'' FROM generate_series(1, 20000) g'
-- New tokens of sessions started within the last day, each the child of a token made a minute ago.
\set ordered_insert 'EXPLAIN (ANALYZE, BUFFERS, COSTS OFF, TIMING OFF) INSERT INTO ordered_ids SELECT v7(clock_timestamp()), v7(now() - interval ''1 day'' + (g % 100) * interval ''1 s''), encode(sha256((''o'' || g || random())::bytea), ''base64''), v7(clock_timestamp() - interval ''1 minute''), now(), NULL, now() + interval ''1 day'' FROM generate_series(1, 20000) g'
:random_insert;
:ordered_insert;
:random_insert;
:ordered_insert;
\c postgres
DROP DATABASE time_ordered_ids_bench;
