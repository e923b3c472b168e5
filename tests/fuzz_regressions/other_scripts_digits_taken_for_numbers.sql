-- found by the final 30-minute fuzz run: the oracle read '೯' (Kannada nine) in a numeric column as 9,
-- as Python's Decimal does; Postgres reads ASCII digits only, and the runbook rightly rejected the row.
CREATE TABLE "order" (
  "id" INTEGER PRIMARY KEY,
  "code" NUMERIC,
  "n" INTEGER
);
INSERT INTO "order" ("id", "code", "n") VALUES (1, '೯', '٣');
INSERT INTO "order" ("id", "code", "n") VALUES (2, '9', 3);
