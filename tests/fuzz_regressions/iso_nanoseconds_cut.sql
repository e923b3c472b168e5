-- FIXED in c49c8b6 (now a listed loss, value:items.happened_at); kept as a regression: the oracle must find nothing wrong.
-- issue 12: ISO text with nanoseconds is cut to microseconds in silence (timestamptz holds microseconds:
-- the row should be rejected, or the loss listed).
CREATE TABLE "items" (
  "happened_at" TIMESTAMP
);
INSERT INTO "items" ("happened_at") VALUES ('2024-01-01T10:00:00.123456789Z');
