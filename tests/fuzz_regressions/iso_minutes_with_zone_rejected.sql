-- found by fuzzing: ISO 8601 text with hours and minutes and a zone but no seconds is rejected as
-- 'not a date and time' (SQLite's own date functions read it: 2000-01-01 00:00 UTC). Shrunk by Hypothesis.
CREATE TABLE "items" (
  "n" INTEGER,
  "created_at" DATETIME NOT NULL
);
INSERT INTO "items" ("n", "created_at") VALUES (0, '2000-01-01T00:00Z');
