-- found by fuzzing: a column without a type, named like a time, holding unix seconds and one BLOB is
-- planned as timestamptz and the BLOB's row is rejected ('not a date and time'); the README gives a
-- column without a type holding BLOBs beside numbers bytea with every row. Reduced from a generated database.
CREATE TABLE "t" (
  "id" INTEGER PRIMARY KEY,
  "deleted_at"
);
INSERT INTO "t" ("id", "deleted_at") VALUES (1, 1700000000);
INSERT INTO "t" ("id", "deleted_at") VALUES (2, x'fffe');
