-- A prosecutor's verdict on a clue of a stored run: `confirmed` (supervision opened), `dismissed`
-- (with a reason) or `needs-more-data`. One current verdict per (run, subject); every change is
-- in the audit log. Field precision (confirmed / reviewed) is computed from these rows.
CREATE TABLE clue_reviews (
    run_id      BIGINT NOT NULL REFERENCES runs(id),
    subject     TEXT NOT NULL,
    verdict     TEXT NOT NULL,
    reason      TEXT NOT NULL,
    note        TEXT NOT NULL,
    user_id     BIGINT NOT NULL REFERENCES users(id),
    reviewed_at TEXT NOT NULL,
    PRIMARY KEY (run_id, subject)
);
