-- The models a user keeps at hand (the star on a model's page; the registry lists them first).
CREATE TABLE favourites (
    user_id BIGINT NOT NULL REFERENCES users(id),
    digest  TEXT NOT NULL REFERENCES plugins(digest),
    PRIMARY KEY (user_id, digest)
);
