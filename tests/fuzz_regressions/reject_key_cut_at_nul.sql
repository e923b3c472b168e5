-- found by fuzzing: in a WITHOUT ROWID table the reject's key is quote(id), which stops at a NUL: the
-- reject of 'a' also names 'a\0b', so the rejects cannot say which row was rejected (and verification
-- then leaves 'a\0b' out of SQLite's side). Reduced from a generated database.
CREATE TABLE "items" (
  "id" TEXT PRIMARY KEY,
  "happened_at" TEXT
) WITHOUT ROWID;
INSERT INTO "items" ("id", "happened_at") VALUES ('a', x'8139');
INSERT INTO "items" ("id", "happened_at") VALUES ('a' || char(0) || 'b', '_--bc_za');
