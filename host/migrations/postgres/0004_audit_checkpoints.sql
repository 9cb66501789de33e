-- Signed checkpoints over the audit chain: (seq, hash, time) signed with the registry's ed25519 key.
CREATE TABLE audit_checkpoints (
    seq       BIGINT PRIMARY KEY,
    hash      TEXT NOT NULL,
    at        TEXT NOT NULL,
    signature TEXT NOT NULL
);
