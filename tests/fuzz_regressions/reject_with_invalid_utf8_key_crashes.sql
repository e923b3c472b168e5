-- found by fuzzing: a row to reject whose key is not valid UTF-8 crashes the load with UnicodeDecodeError
-- (pyarrow reading the reject's key) instead of being rejected.
CREATE TABLE "t" (
  "id" TEXT PRIMARY KEY,
  "n" INTEGER
) WITHOUT ROWID;
INSERT INTO "t" ("id", "n") VALUES (CAST(x'ff' AS TEXT), 'abc');
