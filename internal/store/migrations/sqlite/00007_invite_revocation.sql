-- +goose Up
-- An admin may withdraw an invitation before it is used; deactivating or
-- demoting its inviter withdraws it too. A withdrawn link never works again.
ALTER TABLE invites ADD COLUMN revoked_at INTEGER;

-- +goose Down
ALTER TABLE invites DROP COLUMN revoked_at;
