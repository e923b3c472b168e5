-- found by the final 30-minute fuzz run: the oracle took '\x1d2' (a group separator before a digit)
-- for the integer 2, as Python's strip() does; Postgres skips only C's white space, and so do the
-- runbook's conversions now (a vertical tab around a number used to be rejected). Reduced by hand.
CREATE TABLE "items" (
  "id" TEXT PRIMARY KEY,
  "created_at" BIGINT,
  "amount" NUMERIC
);
INSERT INTO "items" ("id", "created_at", "amount") VALUES ('a', char(29) || '2', '0' || char(31));
INSERT INTO "items" ("id", "created_at", "amount") VALUES ('b', char(11) || '2' || char(9), char(12) || '1.5');
INSERT INTO "items" ("id", "created_at", "amount") VALUES ('c', 946684800, 1);
