-- found by fuzzing: an infinite real in a NUMERIC column arrives as Infinity, but verification fails
-- comparing SQLite's 'Inf' with Postgres' 'Infinity'.
CREATE TABLE "t" (
  "id" INTEGER PRIMARY KEY,
  "amount" NUMERIC
);
INSERT INTO "t" ("id", "amount") VALUES (1, 9e999);
