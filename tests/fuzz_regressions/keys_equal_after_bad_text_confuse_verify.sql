-- found by fuzzing: two text keys that are not valid UTF-8 both read as U+FFFD. The second row is
-- rightly rejected ('maybe' is no number); the first loads, and its real fails verification
-- (equal_reals_fail_verification); the difference verification then reports compares it with the rejected
-- row: "key \ufffd changed: tags (SQLite '1242236715994', Postgres '675'), amount (SQLite 'maybe', ...)".
-- Reduced from a generated database.
CREATE TABLE "t_x" (
  "id" TEXT PRIMARY KEY,
  "tags" TEXT,
  "amount" DECIMAL
);
INSERT INTO "t_x" ("id", "tags", "amount") VALUES (CAST(x'ff' AS TEXT), 675, 2.8374483147362546e+256);
INSERT INTO "t_x" ("id", "tags", "amount") VALUES (CAST(x'80' AS TEXT), 1242236715994, 'maybe');
