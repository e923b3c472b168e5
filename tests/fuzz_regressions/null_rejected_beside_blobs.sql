-- found by fuzzing: in a TEXT column whose only values are BLOBs, the row holding NULL is rejected too,
-- with the BLOB's reason ('a text column cannot hold a BLOB'): nothing of the table arrives.
-- Shrunk by Hypothesis.
CREATE TABLE "items" (
  "id" INTEGER PRIMARY KEY,
  "n" INTEGER,
  "created_at" TEXT
);
INSERT INTO "items" ("id", "n", "created_at") VALUES (1, 0, NULL);
INSERT INTO "items" ("id", "n", "created_at") VALUES (NULL, 0, x'');
