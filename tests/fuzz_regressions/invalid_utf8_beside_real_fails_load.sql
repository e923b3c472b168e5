-- found by fuzzing: a column holding text that is not valid UTF-8 and a real stops the load: the UTF-8
-- repair (fix_utf8) is handed the real's digits ('12.5' is not hex). Reduced from a generated database.
CREATE TABLE "t" (
  "v" BOOLEAN
);
INSERT INTO "t" ("v") VALUES (CAST(x'ff' AS TEXT));
INSERT INTO "t" ("v") VALUES (12.5);
