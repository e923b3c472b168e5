-- found by fuzzing: a DATE column's datetime text arrives as the date alone (the time of day, and an
-- offset, are dropped), and verification agrees.
CREATE TABLE "t" (
  "id" INTEGER PRIMARY KEY,
  "due" DATE
);
INSERT INTO "t" ("id", "due") VALUES (1, '2091-07-11 13:27');
