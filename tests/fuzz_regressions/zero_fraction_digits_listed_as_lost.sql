-- found by fuzzing: ISO text with seven digits of fraction, all zeros, is listed as a loss ("digits beyond
-- microseconds ... are cut"), so the run stops at the plan although nothing would be cut.
-- Shrunk by Hypothesis (an empty table and unused columns removed by hand).
CREATE TABLE "events" (
  "id" INTEGER PRIMARY KEY,
  "created_at" DATETIME
);
INSERT INTO "events" ("id", "created_at") VALUES (1, '2000-01-01T00:00:00.0000000');
