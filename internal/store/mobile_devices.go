package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"roster/internal/core"
)

const mobileDeviceColumns = "id, workspace_id, user_id, platform, provider, token_hash, token_sealed, app_version, locale, created_at, registered_at, last_used_at"

func scanMobileDevice(s scanner) (*core.MobileDevice, error) {
	var d core.MobileDevice
	var created, registered int64
	var used sql.NullInt64
	if err := s.Scan(&d.ID, &d.WorkspaceID, &d.UserID, &d.Platform, &d.Provider, &d.TokenHash, &d.TokenSealed, &d.AppVersion, &d.Locale,
		&created, &registered, &used); err != nil {
		return nil, fmt.Errorf("read mobile device: %w", err)
	}
	d.CreatedAt, d.RegisteredAt, d.LastUsedAt = fromMS(created), fromMS(registered), fromNullMS(used)
	return &d, nil
}

// RegisterMobileDevice stores d for its user, in one statement: a token
// seen before (same platform and TokenHash) keeps its row and id and takes
// the new owner, app version, locale and registration time, so two apps
// registering the same token at once leave one row. d.ID, d.CreatedAt and
// d.RegisteredAt are filled in.
func (q *Q) RegisterMobileDevice(ctx context.Context, d *core.MobileDevice) error {
	now := ms(q.now())
	var created, registered int64
	err := q.row(ctx, `INSERT INTO mobile_devices (workspace_id, user_id, platform, provider, token_hash, token_sealed, app_version, locale,
		created_at, registered_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
		ON CONFLICT (platform, token_hash) DO UPDATE SET workspace_id = excluded.workspace_id, user_id = excluded.user_id,
		provider = excluded.provider, token_sealed = excluded.token_sealed, app_version = excluded.app_version,
		locale = excluded.locale, registered_at = excluded.registered_at
		RETURNING id, created_at, registered_at`,
		d.WorkspaceID, d.UserID, d.Platform, d.Provider, d.TokenHash, d.TokenSealed, d.AppVersion, d.Locale, now, now).
		Scan(&d.ID, &created, &registered)
	if err != nil {
		return fmt.Errorf("register mobile device: %w", err)
	}
	d.CreatedAt, d.RegisteredAt = fromMS(created), fromMS(registered)
	return nil
}

// MobileDevices lists a person's devices, the last registered first.
func (q *Q) MobileDevices(ctx context.Context, workspaceID, userID int64) ([]*core.MobileDevice, error) {
	rows, err := q.query(ctx, "SELECT "+mobileDeviceColumns+" FROM mobile_devices WHERE workspace_id = ? AND user_id = ? ORDER BY registered_at DESC, id DESC",
		workspaceID, userID)
	return collect(rows, err, "mobile devices", scanMobileDevice)
}

// MobileDevice returns one device of the workspace, or core.ErrNotFound.
func (q *Q) MobileDevice(ctx context.Context, workspaceID, id int64) (*core.MobileDevice, error) {
	d, err := scanMobileDevice(q.row(ctx, "SELECT "+mobileDeviceColumns+" FROM mobile_devices WHERE workspace_id = ? AND id = ?", workspaceID, id))
	if err != nil {
		if errors.Is(err, sql.ErrNoRows) {
			return nil, core.ErrNotFound
		}
		return nil, err
	}
	return d, nil
}

// MobileProviders returns, for each of userIDs of the workspace that has
// devices, the push providers of their devices.
func (q *Q) MobileProviders(ctx context.Context, workspaceID int64, userIDs []int64) (map[int64][]string, error) {
	out := make(map[int64][]string)
	for chunk := range chunks(userIDs, 512) {
		rows, err := q.queryRows(ctx, "SELECT DISTINCT user_id, provider FROM mobile_devices WHERE workspace_id = ? AND user_id IN ("+marks(len(chunk))+")",
			append([]any{workspaceID}, anys(chunk)...)...)
		type pair struct {
			user     int64
			provider string
		}
		pairs, err := collect(rows, err, "mobile device providers", func(s scanner) (pair, error) {
			var p pair
			err := s.Scan(&p.user, &p.provider)
			return p, err
		})
		if err != nil {
			return nil, err
		}
		for _, p := range pairs {
			out[p.user] = append(out[p.user], p.provider)
		}
	}
	return out, nil
}

// DeleteMobileDevice removes one of the person's devices; false when the
// person has no device with that id.
func (q *Q) DeleteMobileDevice(ctx context.Context, workspaceID, userID, id int64) (bool, error) {
	res, err := q.exec(ctx, "DELETE FROM mobile_devices WHERE workspace_id = ? AND user_id = ? AND id = ?", workspaceID, userID, id)
	if err != nil {
		return false, fmt.Errorf("delete mobile device: %w", err)
	}
	n, err := res.RowsAffected()
	return n > 0, err
}

// DeleteDeadMobileDevice removes a device its push service called gone,
// unless it registered again after notAfter: a token re-registered since
// the service stopped accepting it is alive again. One statement, so a
// registration racing with it either lands first (and the row stays) or
// after (and makes a new row).
func (q *Q) DeleteDeadMobileDevice(ctx context.Context, id int64, notAfter time.Time) (bool, error) {
	res, err := q.exec(ctx, "DELETE FROM mobile_devices WHERE id = ? AND registered_at <= ?", id, ms(notAfter))
	if err != nil {
		return false, fmt.Errorf("delete dead mobile device: %w", err)
	}
	n, err := res.RowsAffected()
	return n > 0, err
}

// TouchMobileDevices records that the devices took a push now.
func (q *Q) TouchMobileDevices(ctx context.Context, ids []int64) error {
	if len(ids) == 0 {
		return nil
	}
	_, err := q.exec(ctx, "UPDATE mobile_devices SET last_used_at = ? WHERE id IN ("+marks(len(ids))+")", append([]any{ms(q.now())}, anys(ids)...)...)
	if err != nil {
		return fmt.Errorf("touch mobile devices: %w", err)
	}
	return nil
}
