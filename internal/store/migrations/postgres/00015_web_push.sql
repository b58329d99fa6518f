-- Web Push (browser push notifications).
-- push_subscriptions: one row per push service endpoint. The endpoint is a
-- capability URL (whoever holds it can push to the browser) and, with the
-- browser's keys, is stored sealed (secrets.Box); endpoint_hash, a keyed
-- MAC of the endpoint, makes it unique: the same browser subscribing again
-- updates its row, also when another person signs in on it.
-- subscribed_at moves on every subscription, so a push service's "gone"
-- answer removes a row only when it was not subscribed again since.
-- session_id is the web session that subscribed: signing out (or the
-- session's revocation or expiry) removes the subscription with it, so a
-- shared computer stops showing the person's notifications; NULL when
-- subscribed with an API token (an app of one's own).
-- +goose Up
CREATE TABLE push_subscriptions (
    id            BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    workspace_id  BIGINT NOT NULL REFERENCES workspaces(id) ON DELETE CASCADE,
    user_id       BIGINT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    endpoint_hash BYTEA  NOT NULL,
    sealed        BYTEA  NOT NULL,
    browser       TEXT   NOT NULL DEFAULT '',
    os            TEXT   NOT NULL DEFAULT '',
    created_at    BIGINT NOT NULL,
    subscribed_at BIGINT NOT NULL,
    last_used_at  BIGINT,
    session_id    BIGINT REFERENCES sessions(id) ON DELETE CASCADE
);
CREATE UNIQUE INDEX push_subscriptions_endpoint ON push_subscriptions (endpoint_hash);
CREATE INDEX push_subscriptions_user ON push_subscriptions (workspace_id, user_id);
CREATE INDEX push_subscriptions_session ON push_subscriptions (session_id);

-- The application server's VAPID key pair (RFC 8292), one for the
-- installation: made on first start, the private key sealed. Browsers
-- subscribed with its public key, so replacing it orphans every
-- subscription.
CREATE TABLE push_vapid_keys (
    id             INTEGER NOT NULL PRIMARY KEY CHECK (id = 1),
    public_key     TEXT    NOT NULL,
    private_sealed BYTEA   NOT NULL,
    created_at     BIGINT  NOT NULL
);

-- +goose Down
DROP TABLE push_vapid_keys;
DROP TABLE push_subscriptions;
