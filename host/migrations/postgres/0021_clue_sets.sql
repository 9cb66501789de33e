-- A run's clues are stored as one clue set when it finishes, and become rows of `clues` (indexed
-- for paging, rule counts and reviews) when they are first read: one row written in the run's
-- finishing transaction instead of three B-tree entries per clue (16,000 clues: 5 ms against
-- 70 ms). Each clue is its subject, score, rule, reason and evidence (JSON), each written
-- `<bytes>:<text>`, in emission order, the whole compressed with zstd. A run's clues are in
-- exactly one place: indexing them deletes the set and inserts the rows in one transaction.
CREATE TABLE clue_sets (
    run_id BIGINT PRIMARY KEY REFERENCES runs(id),
    clues  BYTEA NOT NULL
);
