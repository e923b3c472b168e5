-- found by fuzzing: a DEFAULT with more digits than its column's type holds arrives as it is, and
-- Postgres rounds what it stores: 12.345 on DECIMAL(5,2) stores 12.35, 1.5 on an INTEGER column stores 2
-- (SQLite stores 12.345 and 1.5).
CREATE TABLE "t" (
  "price" DECIMAL(5,2) DEFAULT 12.345,
  "qty" INTEGER DEFAULT 1.5
);
