-- found by fuzzing (30-minute run): x'e282' kept its primary key value (U+FFFD) against x'ff', then
-- was itself rejected because its created_at (0 s) equals another row's (2.2e-308 s) once converted;
-- x'ff' stayed rejected as the duplicate of a row no longer there. Reduced by hand.
CREATE TABLE "order" (
  "id" VARCHAR(24) PRIMARY KEY,
  "created_at" DATETIME UNIQUE
) WITHOUT ROWID;
INSERT INTO "order" ("id", "created_at") VALUES ('a' || CAST(x'ff' AS TEXT) || 'b', 2.2250738585072014e-308);
INSERT INTO "order" ("id", "created_at") VALUES (CAST(x'e282' AS TEXT), 0);
INSERT INTO "order" ("id", "created_at") VALUES (CAST(x'ff' AS TEXT), 1000000000.363);
