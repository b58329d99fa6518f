-- Telegram: who is linked to which chat, the one-time tokens of
-- "Connect Telegram", and where long polling stopped.
-- +goose Up
-- One chat per person; a chat may serve several people (one Telegram
-- account in two workspaces).
CREATE TABLE telegram_links (
    user_id      BIGINT NOT NULL PRIMARY KEY REFERENCES users(id) ON DELETE CASCADE,
    workspace_id BIGINT NOT NULL REFERENCES workspaces(id) ON DELETE CASCADE,
    chat_id      BIGINT NOT NULL,
    username     TEXT   NOT NULL DEFAULT '',
    linked_at    BIGINT NOT NULL
);
-- /stop and a blocked bot unlink by chat.
CREATE INDEX telegram_links_chat ON telegram_links (chat_id);

-- A token is stored only as its SHA-256; it is claimed once, by one
-- UPDATE ... WHERE used = false AND expires_at > now RETURNING.
CREATE TABLE telegram_link_tokens (
    token_hash   BLOB  NOT NULL PRIMARY KEY,
    user_id      BIGINT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    workspace_id BIGINT NOT NULL REFERENCES workspaces(id) ON DELETE CASCADE,
    expires_at   BIGINT NOT NULL,
    used         INTEGER NOT NULL DEFAULT 0,
    created_at   BIGINT NOT NULL
);
CREATE INDEX telegram_link_tokens_expires ON telegram_link_tokens (expires_at);

-- The next getUpdates offset per bot, so a restart does not handle an
-- update twice.
CREATE TABLE telegram_offsets (
    bot_id      BIGINT NOT NULL PRIMARY KEY,
    next_offset BIGINT NOT NULL
);

-- +goose Down
DROP TABLE telegram_offsets;
DROP TABLE telegram_link_tokens;
DROP TABLE telegram_links;
