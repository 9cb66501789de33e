-- Leases on running runs: the worker that took a run holds it until `lease_until_ms` (renewed
-- while the run goes on); a run whose lease expired goes back to the queue, up to a number of
-- attempts, and a result from a worker that lost its lease is discarded.
ALTER TABLE runs ADD COLUMN lease_owner TEXT;
ALTER TABLE runs ADD COLUMN lease_until_ms BIGINT;
ALTER TABLE runs ADD COLUMN attempts BIGINT NOT NULL DEFAULT 0;
