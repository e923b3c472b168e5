-- found by fuzzing: reals that arrive exactly fail verification, because the two sides print them
-- differently: in a REAL column 4.20421503953307e16 (SQLite '4.20421503953307039999e+16', Postgres
-- '4.2042150395330704e+16'), in a NUMERIC column -1.175494351e-38 (SQLite '-1.17549435099999999884e-38',
-- Postgres '-0.00000000000000000000000000000000000001175494351'). Each reduced from a generated database.
CREATE TABLE "t" (
  "id" INTEGER PRIMARY KEY,
  "x" REAL
);
INSERT INTO "t" ("id", "x") VALUES (1, 4.20421503953307e16);
CREATE TABLE "n" (
  "id" INTEGER PRIMARY KEY,
  "price" NUMERIC
);
INSERT INTO "n" ("id", "price") VALUES (1, -1.175494351e-38);
