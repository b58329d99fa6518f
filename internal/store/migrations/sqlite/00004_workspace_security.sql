-- +goose Up
-- Mandatory two-step verification and the IP allowlist (one address or
-- CIDR range per line), per workspace.
ALTER TABLE workspaces ADD COLUMN require_two_factor INTEGER NOT NULL DEFAULT 0;
ALTER TABLE workspaces ADD COLUMN ip_allowlist TEXT NOT NULL DEFAULT '';

-- +goose Down
ALTER TABLE workspaces DROP COLUMN ip_allowlist;
ALTER TABLE workspaces DROP COLUMN require_two_factor;
