-- Leases on running competition submissions, as on runs (0016): the worker that took one holds
-- it until `lease_until_ms` (renewed while it runs); an expired lease puts the submission back
-- in the queue, up to a number of attempts, and a late result is discarded.
ALTER TABLE submissions ADD COLUMN lease_owner TEXT;
ALTER TABLE submissions ADD COLUMN lease_until_ms BIGINT;
ALTER TABLE submissions ADD COLUMN attempts BIGINT NOT NULL DEFAULT 0;
-- Every claim looks for expired leases first: keep that a lookup, not a scan.
CREATE INDEX runs_leased ON runs (lease_until_ms) WHERE state = 'running';
CREATE INDEX submissions_leased ON submissions (lease_until_ms) WHERE state = 'running';
