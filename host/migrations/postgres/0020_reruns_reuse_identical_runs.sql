-- A rerun of the same component on the same dataset version, with the same settings and limits,
-- on the same host build, is answered from the earlier run instead of running again: runs are
-- deterministic (the guest's clocks are fixed and its random numbers seeded from what runs on
-- what; vetting checks two runs give one output digest). `reuse_key` names those inputs, on runs
-- that ran and completed; `reused_from` is the run whose outcome and clues a rerun shares (its
-- clues are stored once, under that run); `fresh` asks for a run that executes whatever was run
-- before (kept for queued runs, which a worker picks up later).
ALTER TABLE runs ADD COLUMN reuse_key TEXT;
ALTER TABLE runs ADD COLUMN reused_from BIGINT REFERENCES runs(id);
ALTER TABLE runs ADD COLUMN fresh BIGINT NOT NULL DEFAULT 0;
CREATE INDEX runs_reuse ON runs (reuse_key) WHERE reuse_key IS NOT NULL;
