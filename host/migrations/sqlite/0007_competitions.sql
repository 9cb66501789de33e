-- Benchmarks (a dataset with its hidden labels and a public/private split) and competitions on
-- them: submissions are stored runs, scored on both sides of the split.
CREATE TABLE benchmarks (
    id               INTEGER PRIMARY KEY,
    name             TEXT NOT NULL UNIQUE,
    task             TEXT NOT NULL,
    dataset_id       BIGINT NOT NULL REFERENCES datasets(id),
    dataset_digest   TEXT NOT NULL,
    labels_digest    TEXT NOT NULL,
    metric           TEXT NOT NULL,
    review_budget    BIGINT NOT NULL,
    public_fraction  DOUBLE PRECISION NOT NULL,
    split_seed       BIGINT NOT NULL,
    split_digest     TEXT NOT NULL,
    public_subjects  BIGINT NOT NULL,
    private_subjects BIGINT NOT NULL,
    practice_id      BIGINT REFERENCES datasets(id),
    org_id           BIGINT NOT NULL REFERENCES orgs(id),
    created_by       BIGINT NOT NULL REFERENCES users(id),
    created_at       TEXT NOT NULL
);

CREATE TABLE competitions (
    id               INTEGER PRIMARY KEY,
    name             TEXT NOT NULL UNIQUE,
    benchmark_id     BIGINT NOT NULL REFERENCES benchmarks(id),
    state            TEXT NOT NULL,
    opens_at         TEXT,
    closes_at        TEXT,
    daily_limit      BIGINT NOT NULL,
    failure_limit    BIGINT NOT NULL,
    final_selections BIGINT NOT NULL,
    limits           TEXT NOT NULL,
    org_id           BIGINT NOT NULL REFERENCES orgs(id),
    created_by       BIGINT NOT NULL REFERENCES users(id),
    created_at       TEXT NOT NULL,
    finalized_at     TEXT,
    final_board      TEXT
);

CREATE TABLE submissions (
    id              INTEGER PRIMARY KEY,
    competition_id  BIGINT NOT NULL REFERENCES competitions(id),
    plugin_digest   TEXT NOT NULL REFERENCES plugins(digest),
    user_id         BIGINT NOT NULL REFERENCES users(id),
    org_id          BIGINT NOT NULL REFERENCES orgs(id),
    state           TEXT NOT NULL,
    submitted_at    TEXT NOT NULL,
    day             TEXT NOT NULL,
    run_id          BIGINT REFERENCES runs(id),
    host            TEXT,
    pid             BIGINT,
    outcome         TEXT,
    public_scores   TEXT,
    private_scores  TEXT,
    provenance      TEXT,
    selected        BIGINT NOT NULL DEFAULT 0,
    deterministic   BIGINT NOT NULL DEFAULT 1,
    finished_at     TEXT
);
CREATE INDEX submissions_by_org_day ON submissions (competition_id, org_id, day);
CREATE INDEX submissions_queued ON submissions (state, id);

-- A run made for a submission belongs to its competition: only organizers and admins read it.
ALTER TABLE runs ADD COLUMN competition_id BIGINT REFERENCES competitions(id);
