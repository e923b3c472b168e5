-- FIXED in c49c8b6; kept as a regression: the oracle must find nothing wrong.
-- issue 12: a BLOB column holding text and bytes is planned as text, and the bytes are rejected.
-- Shrunk by Hypothesis (an empty table removed by hand).
CREATE TABLE "events" (
  "data" BLOB
);
INSERT INTO "events" ("data") VALUES (x'');
INSERT INTO "events" ("data") VALUES ('');
