-- FIXED in c49c8b6; kept as a regression: the oracle must find nothing wrong.
-- issue 12: DBL_MAX arrives as 1.7976931348623155e308, and verification agrees.
-- Shrunk by Hypothesis (an empty table removed by hand). 1.700758726813431e308 is found one ulp off the same way.
CREATE TABLE "events" (
  "x" REAL
);
INSERT INTO "events" ("x") VALUES (1.7976931348623157e+308);
