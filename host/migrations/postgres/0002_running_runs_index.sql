-- Every `sieve` command looks for runs left `running` by a killed process on its host: index just
-- those rows, so the check stays a lookup however many runs the registry holds.
CREATE INDEX runs_running ON runs (host) WHERE state = 'running';
