-- SQL models. An admin installs the SQL engine component (its bytes are a blob); a SQL model is
-- published as a package of (engine digest, canonical text) whose digest is the plugin's, and
-- the engine it runs on is kept beside it for listing and for refusing an engine never installed.
CREATE TABLE sql_engines (
    digest       TEXT PRIMARY KEY,
    size         BIGINT NOT NULL,
    installed_by BIGINT NOT NULL REFERENCES users(id),
    installed_at TEXT NOT NULL
);
ALTER TABLE plugins ADD COLUMN engine_digest TEXT REFERENCES sql_engines(digest);
