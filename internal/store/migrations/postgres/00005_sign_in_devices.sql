-- +goose Up
-- Devices (label + IP) a user signed in from, to notice a new one.
CREATE TABLE sign_in_devices (
    user_id BIGINT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    device  TEXT    NOT NULL,
    ip      TEXT    NOT NULL,
    last_at BIGINT NOT NULL,
    PRIMARY KEY (user_id, device, ip)
);

-- +goose Down
DROP TABLE sign_in_devices;
