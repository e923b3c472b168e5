-- found by fuzzing: two keys SQLite keeps apart become one under bad_text: replace (NUL -> U+FFFD);
-- the primary key fails when it is built after the rows, and the run stops instead of rejecting one row.
-- (0 and 'f' in a UNIQUE BOOLEAN column, or 0 and '1970-01-01' in a UNIQUE DATETIME column, stop it the same way.)
CREATE TABLE "t" (
  "id" TEXT PRIMARY KEY
);
INSERT INTO "t" ("id") VALUES ('a' || char(0) || 'b');
INSERT INTO "t" ("id") VALUES ('a' || char(65533) || 'b');
