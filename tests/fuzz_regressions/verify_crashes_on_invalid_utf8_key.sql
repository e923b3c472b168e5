-- found by fuzzing: verification crashes (DuckDB InvalidInputException, 'Invalid unicode') when it drills
-- down to a row whose key is not valid UTF-8; here the drill-down is set off by integral_double_false_alarm.
-- Reduced from a generated database.
CREATE TABLE "users" (
  "k1" INTEGER,
  "k2" TEXT,
  "weight" DOUBLE,
  PRIMARY KEY ("k1", "k2")
) WITHOUT ROWID;
INSERT INTO "users" ("k1", "k2", "weight") VALUES (48, CAST(x'6f6bc0af' AS TEXT), 2.955622020720221e+16);
