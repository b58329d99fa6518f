-- +goose Up
-- ISO 3166-1 region used to read phone numbers typed without a country code.
ALTER TABLE workspaces ADD COLUMN country TEXT NOT NULL DEFAULT '';

-- 0 means no photo; otherwise the version in the photo's URL and blob keys.
ALTER TABLE users ADD COLUMN photo_version INTEGER NOT NULL DEFAULT 0;

-- An email change waits here until the link sent to the new address is opened.
CREATE TABLE email_changes (
    user_id     INTEGER PRIMARY KEY REFERENCES users(id) ON DELETE CASCADE,
    new_email   TEXT    NOT NULL,
    token_hash  BLOB    NOT NULL UNIQUE,
    created_at  INTEGER NOT NULL,
    expires_at  INTEGER NOT NULL
);

CREATE TABLE password_resets (
    id          INTEGER PRIMARY KEY,
    user_id     INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    token_hash  BLOB    NOT NULL UNIQUE,
    created_by  INTEGER REFERENCES users(id) ON DELETE SET NULL,
    created_at  INTEGER NOT NULL,
    expires_at  INTEGER NOT NULL,
    used_at     INTEGER
);
CREATE INDEX password_resets_user ON password_resets (user_id);

-- Who changed what about whom; never the secret values themselves.
CREATE TABLE audit_log (
    id           INTEGER PRIMARY KEY,
    workspace_id INTEGER NOT NULL REFERENCES workspaces(id) ON DELETE CASCADE,
    actor_id     INTEGER REFERENCES users(id) ON DELETE SET NULL,
    target_id    INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    action       TEXT    NOT NULL,
    detail       TEXT    NOT NULL DEFAULT '',
    ip           TEXT    NOT NULL DEFAULT '',
    created_at   INTEGER NOT NULL
);
CREATE INDEX audit_log_target ON audit_log (target_id, created_at);

-- +goose Down
DROP TABLE audit_log;
DROP TABLE password_resets;
DROP TABLE email_changes;
ALTER TABLE users DROP COLUMN photo_version;
ALTER TABLE workspaces DROP COLUMN country;
