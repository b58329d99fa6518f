-- The dev outbox records whose workspace each mail is for, so an admin
-- reads only their own workspace's mail. Mail kept before (0) is shown to
-- no one.
-- +goose Up
ALTER TABLE dev_outbox ADD COLUMN workspace_id BIGINT NOT NULL DEFAULT 0;
CREATE INDEX dev_outbox_workspace ON dev_outbox (workspace_id, id);

-- +goose Down
DROP INDEX dev_outbox_workspace;
ALTER TABLE dev_outbox DROP COLUMN workspace_id;
