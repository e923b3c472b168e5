-- FIXED in c49c8b6; kept as a regression: the oracle must find nothing wrong.
-- issue 12: DECIMAL(5,2) holding 12.345 and 0.1+0.2 arrives as 12.35 and 0.30, and verification agrees.
-- Shrunk by Hypothesis to the 12.345 row (then an empty table and unused columns removed by hand); 0.1+0.2 added back from the issue.
CREATE TABLE "events" (
  "price" DECIMAL(5,2)
);
INSERT INTO "events" ("price") VALUES (12.345);
INSERT INTO "events" ("price") VALUES (0.1 + 0.2);
