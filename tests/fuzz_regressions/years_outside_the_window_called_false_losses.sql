CREATE TABLE "notes" (
  "id" TEXT PRIMARY KEY,
  "ts" DATETIME
) WITHOUT ROWID;
INSERT INTO "notes" ("id", "ts") VALUES ('a', 15736126354);
INSERT INTO "notes" ("id", "ts") VALUES ('b', 1599709167.587);
INSERT INTO "notes" ("id", "ts") VALUES ('c', 1);
