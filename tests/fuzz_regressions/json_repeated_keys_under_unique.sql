-- found by fuzzing while JSON with a repeated key became json (not jsonb): json has no equality, so
-- CREATE UNIQUE INDEX on it failed and the load stopped; the index now keys the column on its text.
-- Reduced by hand from a generated database.
CREATE TABLE "items" (
  "id" TEXT PRIMARY KEY,
  "tags" JSON,
  "x" REAL,
  UNIQUE ("tags", "x")
);
INSERT INTO "items" ("id", "tags", "x") VALUES ('0', '[null, 0]', -0.0);
INSERT INTO "items" ("id", "tags", "x") VALUES ('4', '{"a": 1, "a": 2}', -0.0);
INSERT INTO "items" ("id", "tags", "x") VALUES ('5', '{"a": 2}', -0.0);
