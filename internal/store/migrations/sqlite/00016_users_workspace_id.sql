-- Recipients by workspace in id order: an event to everyone pages through
-- the workspace's people by id (workspace_id = ? AND id > ? ORDER BY id).
-- Without this index SQLite read the whole workspace through
-- users_workspace_name and sorted it for every page of 250, so one event
-- to 10,000 people read 400,000 rows.
-- +goose Up
CREATE INDEX users_workspace_id ON users (workspace_id, id);

-- +goose Down
DROP INDEX users_workspace_id;
