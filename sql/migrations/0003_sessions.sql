-- Browser sessions (the `sessionid` cookie). The cookie's value is a random
-- secret; only its SHA-256 is stored, so a copy of the database logs no one
-- in. Each session carries its CSRF token: a request authenticated by the
-- cookie may change something only when it also presents that token.
CREATE TABLE user_sessions (
    key_hash    char(64) PRIMARY KEY,
    user_id     bigint NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    csrf_token  varchar(64) NOT NULL,
    created_on  timestamptz NOT NULL DEFAULT now(),
    expires_on  timestamptz NOT NULL
);
CREATE INDEX user_sessions_user_idx ON user_sessions (user_id);
CREATE INDEX user_sessions_expiry_idx ON user_sessions (expires_on);
