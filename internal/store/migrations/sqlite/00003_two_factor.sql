-- +goose Up
-- One row per second-factor method of a user. A row with enabled_at NULL is
-- a setup that has not been confirmed with a code yet.
CREATE TABLE two_factor_methods (
    user_id       INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    method        TEXT    NOT NULL CHECK (method IN ('totp', 'email')),
    secret_sealed BLOB,             -- TOTP key sealed with the secret key; NULL for email
    last_step     INTEGER NOT NULL DEFAULT 0, -- last accepted TOTP time step: replay protection
    created_at    INTEGER NOT NULL,
    enabled_at    INTEGER,
    PRIMARY KEY (user_id, method)
);

CREATE TABLE backup_codes (
    id        INTEGER PRIMARY KEY,
    user_id   INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    code_hash BLOB    NOT NULL,
    used_at   INTEGER
);
CREATE INDEX backup_codes_user ON backup_codes (user_id);

-- A sign-in waiting for its second step, and email codes sent for it or for
-- enabling the email method.
CREATE TABLE two_factor_challenges (
    id              INTEGER PRIMARY KEY,
    user_id         INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    token_hash      BLOB    NOT NULL UNIQUE,
    purpose         TEXT    NOT NULL, -- 'login' or 'enable_email'
    session_kind    TEXT    NOT NULL DEFAULT '',
    ip              TEXT    NOT NULL DEFAULT '',
    device          TEXT    NOT NULL DEFAULT '',
    created_at      INTEGER NOT NULL,
    expires_at      INTEGER NOT NULL,
    attempts        INTEGER NOT NULL DEFAULT 0,
    email_code_hash BLOB,
    email_sent_at   INTEGER,
    email_expires_at INTEGER,
    email_attempts  INTEGER NOT NULL DEFAULT 0,
    done_at         INTEGER
);
CREATE INDEX two_factor_challenges_user ON two_factor_challenges (user_id);

-- +goose Down
DROP TABLE two_factor_challenges;
DROP TABLE backup_codes;
DROP TABLE two_factor_methods;
