-- A finished run keeps its report (outcome, fuel, memory, times, logs, stderr: everything but the
-- clues, as JSON), so that a run made through a server prints what a local run prints.
ALTER TABLE runs ADD COLUMN report TEXT;
