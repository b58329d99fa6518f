-- Phones and tablets registered by the mobile app for push notifications.
-- The push token is sealed (secrets.Box); token_hash, a keyed MAC of the
-- platform and token, makes a token unique: the same install registering
-- again updates its row, also when another account signs in on it.
-- registered_at moves on every registration: APNs' 410 answers carry the
-- time the token stopped being valid, and a device registered after it is
-- kept. provider is the push service the token belongs to (an iOS app
-- may use FCM), so reaching people needs no unsealing.
-- +goose Up
CREATE TABLE mobile_devices (
    id            BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    workspace_id  BIGINT NOT NULL REFERENCES workspaces(id) ON DELETE CASCADE,
    user_id       BIGINT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    platform      TEXT   NOT NULL CHECK (platform IN ('android', 'ios')),
    provider      TEXT   NOT NULL CHECK (provider IN ('fcm', 'apns')),
    token_hash    BYTEA  NOT NULL,
    token_sealed  BYTEA  NOT NULL,
    app_version   TEXT   NOT NULL DEFAULT '',
    locale        TEXT   NOT NULL DEFAULT '',
    created_at    BIGINT NOT NULL,
    registered_at BIGINT NOT NULL,
    last_used_at  BIGINT
);
CREATE UNIQUE INDEX mobile_devices_token ON mobile_devices (platform, token_hash);
CREATE INDEX mobile_devices_user ON mobile_devices (workspace_id, user_id);

-- +goose Down
DROP TABLE mobile_devices;
