-- found by fuzzing: a column without a type holding integers and reals is planned as double precision;
-- integers beyond 2^53 are rounded (9007199254740993 arrives as 9007199254740992), and verification agrees.
CREATE TABLE "t" (
  "id" INTEGER PRIMARY KEY,
  "v"
);
INSERT INTO "t" ("id", "v") VALUES (1, 1.5);
INSERT INTO "t" ("id", "v") VALUES (2, 9007199254740993);
