-- Notifications: settings, events taken in, the in-app centre, deliveries
-- per channel, the live feed streams resume from, idempotency keys.
-- +goose Up
-- A user's own switches; no row means the defaults (on, at the time of
-- the event, 09:00).
CREATE TABLE notify_settings (
    user_id      BIGINT  PRIMARY KEY REFERENCES users(id) ON DELETE CASCADE,
    receive      BOOLEAN NOT NULL,
    email_timing TEXT    NOT NULL CHECK (email_timing IN ('instant', 'daily')),
    digest_time  TEXT    NOT NULL,
    updated_at   BIGINT  NOT NULL
);

-- Cells of the event type × channel matrix that someone chose. user_id 0
-- holds the workspace's defaults; a user without a row for a cell follows
-- the workspace's, and without that the catalogue's.
CREATE TABLE notify_prefs (
    workspace_id BIGINT  NOT NULL REFERENCES workspaces(id) ON DELETE CASCADE,
    user_id      BIGINT  NOT NULL,
    type         TEXT    NOT NULL,
    channel      TEXT    NOT NULL,
    enabled      BOOLEAN NOT NULL,
    PRIMARY KEY (workspace_id, user_id, type, channel)
);

CREATE TABLE notify_events (
    id           BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    workspace_id BIGINT NOT NULL REFERENCES workspaces(id) ON DELETE CASCADE,
    type         TEXT   NOT NULL,
    data         TEXT   NOT NULL,
    recipients   TEXT   NOT NULL,
    actor_id     BIGINT NOT NULL DEFAULT 0,
    dedupe_key   TEXT,
    occurred_at  BIGINT NOT NULL,
    created_at   BIGINT NOT NULL
);
CREATE UNIQUE INDEX notify_events_dedupe ON notify_events (workspace_id, dedupe_key);

-- Dedupe keys outlive their events (pruned after the retention): one
-- event per workspace and key, ever.
CREATE TABLE notify_dedupe (
    workspace_id BIGINT NOT NULL REFERENCES workspaces(id) ON DELETE CASCADE,
    dedupe_key   TEXT   NOT NULL,
    event_id     BIGINT NOT NULL,
    PRIMARY KEY (workspace_id, dedupe_key)
);
CREATE INDEX notify_events_created ON notify_events (created_at);

CREATE TABLE notifications (
    id           BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    workspace_id BIGINT NOT NULL,
    user_id      BIGINT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    event_id     BIGINT NOT NULL REFERENCES notify_events(id) ON DELETE CASCADE,
    type         TEXT   NOT NULL,
    category     TEXT   NOT NULL,
    title        TEXT   NOT NULL,
    body         TEXT   NOT NULL,
    url          TEXT   NOT NULL DEFAULT '',
    popup        BOOLEAN NOT NULL,
    created_at   BIGINT NOT NULL,
    read_at      BIGINT
);
CREATE UNIQUE INDEX notifications_event_user ON notifications (event_id, user_id);
CREATE INDEX notifications_user ON notifications (user_id, id);
CREATE INDEX notifications_user_category ON notifications (user_id, category, id);
CREATE INDEX notifications_created ON notifications (created_at);

-- One row per user with notifications: the exact unread count, kept in the
-- same statements that change read states, and the last feed number.
CREATE TABLE notify_inbox (
    user_id BIGINT PRIMARY KEY REFERENCES users(id) ON DELETE CASCADE,
    unread  BIGINT NOT NULL,
    seq     BIGINT NOT NULL
);

-- What each user's streams are told, numbered per user (the SSE id), so a
-- stream resumes after Last-Event-ID with nothing lost or repeated.
CREATE TABLE notify_feed (
    user_id         BIGINT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    seq             BIGINT NOT NULL,
    kind            TEXT   NOT NULL,
    notification_id BIGINT NOT NULL,
    unread          BIGINT NOT NULL,
    created_at      BIGINT NOT NULL,
    PRIMARY KEY (user_id, seq)
);
CREATE INDEX notify_feed_created ON notify_feed (created_at);

CREATE TABLE notify_deliveries (
    id           BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    workspace_id BIGINT NOT NULL,
    event_id     BIGINT NOT NULL REFERENCES notify_events(id) ON DELETE CASCADE,
    user_id      BIGINT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    channel      TEXT   NOT NULL,
    status       TEXT   NOT NULL CHECK (status IN ('queued', 'sent', 'failed', 'skipped')),
    reason       TEXT   NOT NULL DEFAULT '',
    attempts     INTEGER NOT NULL DEFAULT 0,
    last_error   TEXT   NOT NULL DEFAULT '',
    created_at   BIGINT NOT NULL,
    updated_at   BIGINT NOT NULL
);
CREATE UNIQUE INDEX notify_deliveries_once ON notify_deliveries (event_id, user_id, channel);
CREATE INDEX notify_deliveries_user ON notify_deliveries (user_id, id);

CREATE TABLE idempotency_keys (
    workspace_id BIGINT NOT NULL REFERENCES workspaces(id) ON DELETE CASCADE,
    key          TEXT   NOT NULL,
    request_hash BYTEA  NOT NULL,
    status       INTEGER NOT NULL,
    response     BYTEA,
    created_at   BIGINT NOT NULL,
    PRIMARY KEY (workspace_id, key)
);

-- +goose Down
DROP TABLE idempotency_keys;
DROP TABLE notify_deliveries;
DROP TABLE notify_feed;
DROP TABLE notify_inbox;
DROP TABLE notifications;
DROP TABLE notify_dedupe;
DROP TABLE notify_events;
DROP TABLE notify_prefs;
DROP TABLE notify_settings;
