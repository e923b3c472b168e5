-- found by fuzzing: an INTEGER PRIMARY KEY of 2^63-1 (a rowid SQLite allows) loads, then the run stops:
-- setval(max(id) + 1) is out of range for bigint.
CREATE TABLE "items" (
  "id" INTEGER PRIMARY KEY
);
INSERT INTO "items" ("id") VALUES (9223372036854775807);
