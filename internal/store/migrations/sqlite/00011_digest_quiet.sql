-- The daily digest's schedule and its one-per-day key, quiet hours.
-- +goose Up
-- When the person's next digest is due (NULL: they get email at the time
-- of the event) and the local date of the last one: found by an index,
-- never by a scan of all users.
ALTER TABLE notify_settings ADD COLUMN digest_next_at BIGINT;
ALTER TABLE notify_settings ADD COLUMN digest_last_date TEXT NOT NULL DEFAULT '';
-- Quiet hours as JSON ([{"day":1,"from":"22:00","to":"07:00"}, ...],
-- weekday 0 = Sunday, in the person's zone) and "pause until".
ALTER TABLE notify_settings ADD COLUMN quiet_hours TEXT NOT NULL DEFAULT '';
ALTER TABLE notify_settings ADD COLUMN paused_until BIGINT;
CREATE INDEX notify_settings_digest_due ON notify_settings (digest_next_at) WHERE digest_next_at IS NOT NULL;

-- One digest per person and local date: the key is taken when the digest
-- is queued, so no second one can be queued for that date.
CREATE TABLE notify_digests (
    user_id      BIGINT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    local_date   TEXT   NOT NULL,
    workspace_id BIGINT NOT NULL,
    due_at       BIGINT NOT NULL,
    status       TEXT   NOT NULL CHECK (status IN ('queued', 'sent', 'empty', 'failed')),
    items        INTEGER NOT NULL DEFAULT 0,
    attempts     INTEGER NOT NULL DEFAULT 0,
    last_error   TEXT   NOT NULL DEFAULT '',
    created_at   BIGINT NOT NULL,
    updated_at   BIGINT NOT NULL,
    PRIMARY KEY (user_id, local_date)
);
CREATE INDEX notify_digests_created ON notify_digests (created_at);

-- +goose Down
DROP TABLE notify_digests;
DROP INDEX notify_settings_digest_due;
ALTER TABLE notify_settings DROP COLUMN paused_until;
ALTER TABLE notify_settings DROP COLUMN quiet_hours;
ALTER TABLE notify_settings DROP COLUMN digest_last_date;
ALTER TABLE notify_settings DROP COLUMN digest_next_at;
