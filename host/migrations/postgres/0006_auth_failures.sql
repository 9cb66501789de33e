-- Unauthenticated attempts between two audit events about them (the log records them aggregated).
CREATE TABLE auth_failures (
    id           BIGINT PRIMARY KEY,
    window_start BIGINT NOT NULL,
    attempts     BIGINT NOT NULL
);
