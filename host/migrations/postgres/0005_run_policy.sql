-- The registry's ceiling on run limits: stored runs may ask for less, never more.
CREATE TABLE run_policy (
    id               BIGINT PRIMARY KEY,
    fuel             BIGINT NOT NULL,
    deadline_ms      BIGINT NOT NULL,
    memory_bytes     BIGINT NOT NULL,
    host_memory_bytes BIGINT NOT NULL,
    max_clues        BIGINT NOT NULL,
    max_output_bytes BIGINT NOT NULL,
    max_log_bytes    BIGINT NOT NULL,
    set_by           TEXT NOT NULL,
    set_at           TEXT NOT NULL
);
