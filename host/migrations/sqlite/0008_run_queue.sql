-- Runs can wait in a queue (state 'queued') for a server's workers: each keeps the limits it asked for.
ALTER TABLE runs ADD COLUMN limits TEXT;
CREATE INDEX runs_queued ON runs (id) WHERE state = 'queued';
