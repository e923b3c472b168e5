-- FIXED in c49c8b6; kept as a regression: the oracle must find nothing wrong.
-- issue 12: epoch milliseconds in a DATETIME column that also holds text are read as seconds
-- (946684800000 ms is 2000-01-01; read as seconds it is the year 31969), and verification agrees.
-- Shrunk by Hypothesis from a generated database (tests/fuzz_sqlite.py).
CREATE TABLE "items" (
  "n" INTEGER,
  "created_at" DATETIME
);
INSERT INTO "items" ("n", "created_at") VALUES (0, 946684800000);
INSERT INTO "items" ("n", "created_at") VALUES (0, 946684800000);
INSERT INTO "items" ("n", "created_at") VALUES (0, '2000-01-01');
