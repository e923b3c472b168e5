-- FIXED in 719d1a2 (now a listed loss, default:t.n); kept as a regression: the oracle must find nothing wrong.
-- found by fuzzing: DEFAULT CURRENT_TIMESTAMP on an INTEGER column stores text ('2026-11-29 17:00:47')
-- in SQLite; in Postgres it becomes (extract(epoch from now()))::bigint. Likewise unixepoch() and
-- strftime('%s','now') on a TEXT column become datetime text. The default arrives as another kind of value.
CREATE TABLE "t" (
  "n" INTEGER DEFAULT CURRENT_TIMESTAMP
);
