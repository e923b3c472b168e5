-- found by fuzzing (in c49c8b6's NUMERIC(p,s) check): a NUMERIC(p,s) column holding text that is not valid
-- UTF-8 stops the inspect step: "SQLite could not answer SELECT ...: Invalid unicode (byte sequence
-- mismatch)". Reduced from a generated database.
CREATE TABLE "t" (
  "price" NUMERIC(10,3)
);
INSERT INTO "t" ("price") VALUES (CAST(x'ff' AS TEXT));
