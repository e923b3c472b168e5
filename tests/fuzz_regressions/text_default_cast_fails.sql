-- FIXED in 719d1a2 (now a listed loss, default:t.due_on); kept as a regression: the oracle must find nothing wrong.
-- found by fuzzing: DEFAULT 'x' on a DATE column becomes DEFAULT 'x'::date; CREATE TABLE fails and the run
-- stops (the plan should list the default as a loss).
CREATE TABLE "t" (
  "due_on" DATE DEFAULT 'x'
);
