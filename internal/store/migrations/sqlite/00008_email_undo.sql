-- +goose Up
-- A changed sign-in address can be put back, for 7 days, from a link mailed
-- to the old address: the defence when someone else moved it. Single use.
CREATE TABLE email_undos (
    token_hash  BLOB    PRIMARY KEY,
    user_id     INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    old_email   TEXT    NOT NULL,
    new_email   TEXT    NOT NULL,
    created_at  INTEGER NOT NULL,
    expires_at  INTEGER NOT NULL,
    used_at     INTEGER
);
CREATE INDEX email_undos_user ON email_undos (user_id);

-- +goose Down
DROP TABLE email_undos;
