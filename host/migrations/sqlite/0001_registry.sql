-- The registry: procuratorates, users, tokens, plugins, datasets, grants, runs, clues, audit log.
-- Append-only: never edit a migration that has shipped; add the next one.
-- Portable types only (BIGINT, DOUBLE PRECISION, TEXT): flags are 0/1, times are RFC 3339 text.

CREATE TABLE orgs (
    id         INTEGER PRIMARY KEY,
    name       TEXT NOT NULL UNIQUE,
    parent_id  BIGINT REFERENCES orgs(id),
    level      TEXT NOT NULL,
    created_at TEXT NOT NULL
);

CREATE TABLE users (
    id         INTEGER PRIMARY KEY,
    name       TEXT NOT NULL UNIQUE,
    org_id     BIGINT NOT NULL REFERENCES orgs(id),
    roles      TEXT NOT NULL,
    created_at TEXT NOT NULL
);

CREATE TABLE tokens (
    id         INTEGER PRIMARY KEY,
    user_id    BIGINT NOT NULL REFERENCES users(id),
    token_hash TEXT NOT NULL UNIQUE,
    created_at TEXT NOT NULL,
    revoked    BIGINT NOT NULL DEFAULT 0
);

CREATE TABLE plugins (
    digest        TEXT PRIMARY KEY,
    size          BIGINT NOT NULL,
    api_version   TEXT NOT NULL,
    name          TEXT NOT NULL,
    version       TEXT NOT NULL,
    task          TEXT NOT NULL,
    info          TEXT NOT NULL,
    notes         TEXT NOT NULL,
    author_id     BIGINT NOT NULL REFERENCES users(id),
    org_id        BIGINT NOT NULL REFERENCES orgs(id),
    state         TEXT NOT NULL,
    tampered      BIGINT NOT NULL DEFAULT 0,
    published_at  TEXT NOT NULL,
    decided_by    BIGINT REFERENCES users(id),
    decided_at    TEXT,
    decision_note TEXT
);

CREATE TABLE vettings (
    id       INTEGER PRIMARY KEY,
    digest   TEXT NOT NULL REFERENCES plugins(digest),
    at       TEXT NOT NULL,
    passed   BIGINT NOT NULL,
    findings TEXT NOT NULL
);

CREATE TABLE datasets (
    id            INTEGER PRIMARY KEY,
    name          TEXT NOT NULL,
    version       BIGINT NOT NULL,
    task          TEXT NOT NULL,
    source        TEXT NOT NULL,
    restricted    BIGINT NOT NULL,
    owner_org_id  BIGINT NOT NULL REFERENCES orgs(id),
    digest        TEXT NOT NULL,
    labels_digest TEXT,
    state         TEXT NOT NULL,
    created_by    BIGINT NOT NULL REFERENCES users(id),
    created_at    TEXT NOT NULL,
    decided_by    BIGINT REFERENCES users(id),
    decided_at    TEXT,
    UNIQUE (name, version)
);

CREATE TABLE dataset_tables (
    dataset_id BIGINT NOT NULL REFERENCES datasets(id),
    name       TEXT NOT NULL,
    digest     TEXT NOT NULL,
    row_count  BIGINT NOT NULL,
    byte_size  BIGINT NOT NULL,
    columns    TEXT NOT NULL,
    PRIMARY KEY (dataset_id, name)
);

CREATE TABLE grants (
    dataset_name TEXT NOT NULL,
    org_id       BIGINT NOT NULL REFERENCES orgs(id),
    granted_by   BIGINT NOT NULL REFERENCES users(id),
    granted_at   TEXT NOT NULL,
    PRIMARY KEY (dataset_name, org_id)
);

CREATE TABLE runs (
    id            INTEGER PRIMARY KEY,
    plugin_digest TEXT NOT NULL REFERENCES plugins(digest),
    dataset_id    BIGINT NOT NULL REFERENCES datasets(id),
    user_id       BIGINT NOT NULL REFERENCES users(id),
    org_id        BIGINT NOT NULL REFERENCES orgs(id),
    params        TEXT NOT NULL,
    host_version  TEXT NOT NULL,
    state         TEXT NOT NULL,
    outcome       TEXT,
    detail        TEXT,
    fuel          BIGINT,
    peak_memory   BIGINT,
    wall_ms       DOUBLE PRECISION,
    output_digest TEXT,
    clue_count    BIGINT NOT NULL DEFAULT 0,
    started_at    TEXT NOT NULL,
    finished_at   TEXT,
    host          TEXT NOT NULL,
    pid           BIGINT NOT NULL,
    released_by   BIGINT REFERENCES users(id),
    released_at   TEXT
);

CREATE TABLE clues (
    run_id   BIGINT NOT NULL REFERENCES runs(id),
    seq      BIGINT NOT NULL,
    subject  TEXT NOT NULL,
    score    DOUBLE PRECISION NOT NULL,
    rule     TEXT NOT NULL,
    reason   TEXT NOT NULL,
    evidence TEXT NOT NULL,
    PRIMARY KEY (run_id, seq)
);
CREATE INDEX clues_by_score ON clues (run_id, score);

CREATE TABLE audit_events (
    seq       BIGINT PRIMARY KEY,
    at        TEXT NOT NULL,
    actor     TEXT NOT NULL,
    action    TEXT NOT NULL,
    target    TEXT NOT NULL,
    detail    TEXT NOT NULL,
    prev_hash TEXT NOT NULL,
    hash      TEXT NOT NULL
);

-- The newest event's seq and hash, updated in the same transaction as each append: deleting the
-- newest events (which leaves an intact but shorter chain) is caught against it.
CREATE TABLE audit_head (
    id   BIGINT PRIMARY KEY,
    seq  BIGINT NOT NULL,
    hash TEXT NOT NULL
);
INSERT INTO audit_head (id, seq, hash) VALUES (1, 0, '');
