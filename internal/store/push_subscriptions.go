package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"roster/internal/core"
)

const pushSubscriptionColumns = "id, workspace_id, user_id, endpoint_hash, sealed, browser, os, created_at, subscribed_at, last_used_at"

func scanPushSubscription(s scanner) (*core.PushSubscription, error) {
	var p core.PushSubscription
	var created, subscribed int64
	var used sql.NullInt64
	if err := s.Scan(&p.ID, &p.WorkspaceID, &p.UserID, &p.EndpointHash, &p.Sealed, &p.Browser, &p.OS, &created, &subscribed, &used); err != nil {
		return nil, fmt.Errorf("read push subscription: %w", err)
	}
	p.CreatedAt, p.SubscribedAt, p.LastUsedAt = fromMS(created), fromMS(subscribed), fromNullMS(used)
	return &p, nil
}

// SubscribePush stores p for its user in one statement: an endpoint seen
// before (same EndpointHash) keeps its row and id and takes the new owner,
// keys, browser and subscription time, so a browser subscribing twice at
// once leaves one row. p.ID, p.CreatedAt, p.SubscribedAt and p.LastUsedAt
// are filled in.
func (q *Q) SubscribePush(ctx context.Context, p *core.PushSubscription) error {
	now := ms(q.now())
	var created, subscribed int64
	var used sql.NullInt64
	session := sql.NullInt64{Int64: p.SessionID, Valid: p.SessionID != 0}
	// A browser passing to another person starts afresh: their list must
	// not show when it was added for, or last notified, the one before.
	err := q.row(ctx, `INSERT INTO push_subscriptions (workspace_id, user_id, endpoint_hash, sealed, browser, os, created_at, subscribed_at, session_id)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)
		ON CONFLICT (endpoint_hash) DO UPDATE SET workspace_id = excluded.workspace_id, user_id = excluded.user_id,
		sealed = excluded.sealed, browser = excluded.browser, os = excluded.os, subscribed_at = excluded.subscribed_at,
		session_id = excluded.session_id,
		created_at = CASE WHEN push_subscriptions.user_id = excluded.user_id THEN push_subscriptions.created_at ELSE excluded.created_at END,
		last_used_at = CASE WHEN push_subscriptions.user_id = excluded.user_id THEN push_subscriptions.last_used_at ELSE NULL END
		RETURNING id, created_at, subscribed_at, last_used_at`,
		p.WorkspaceID, p.UserID, p.EndpointHash, p.Sealed, p.Browser, p.OS, now, now, session).Scan(&p.ID, &created, &subscribed, &used)
	if err != nil {
		return fmt.Errorf("subscribe push: %w", err)
	}
	p.CreatedAt, p.SubscribedAt, p.LastUsedAt = fromMS(created), fromMS(subscribed), fromNullMS(used)
	return nil
}

// pushRecency orders a person's subscriptions by their last sign of life:
// the later of their last subscription and their last accepted push.
const pushRecency = "CASE WHEN last_used_at IS NOT NULL AND last_used_at > subscribed_at THEN last_used_at ELSE subscribed_at END"

// TrimPushSubscriptions keeps the person's keep most recently used or
// subscribed subscriptions and removes the others; it returns how many it
// removed.
func (q *Q) TrimPushSubscriptions(ctx context.Context, workspaceID, userID int64, keep int) (int64, error) {
	res, err := q.exec(ctx, `DELETE FROM push_subscriptions WHERE workspace_id = ? AND user_id = ? AND id IN (
		SELECT id FROM push_subscriptions WHERE workspace_id = ? AND user_id = ?
		ORDER BY `+pushRecency+` DESC, id DESC LIMIT 1000000 OFFSET ?)`, workspaceID, userID, workspaceID, userID, keep)
	if err != nil {
		return 0, fmt.Errorf("trim push subscriptions: %w", err)
	}
	return res.RowsAffected()
}

// PushSubscriptions lists a person's subscriptions, the last subscribed
// first.
func (q *Q) PushSubscriptions(ctx context.Context, workspaceID, userID int64) ([]*core.PushSubscription, error) {
	rows, err := q.query(ctx, "SELECT "+pushSubscriptionColumns+" FROM push_subscriptions WHERE workspace_id = ? AND user_id = ? ORDER BY subscribed_at DESC, id DESC",
		workspaceID, userID)
	return collect(rows, err, "push subscriptions", scanPushSubscription)
}

// PushSubscribers returns which of userIDs of the workspace have at least
// one subscription.
func (q *Q) PushSubscribers(ctx context.Context, workspaceID int64, userIDs []int64) (map[int64]bool, error) {
	return q.usersWithRows(ctx, "push_subscriptions", workspaceID, userIDs)
}

// usersWithRows returns which of userIDs of the workspace have a row in
// table (a channel's destinations), in one query per 500 people.
func (q *Q) usersWithRows(ctx context.Context, table string, workspaceID int64, userIDs []int64) (map[int64]bool, error) {
	out := make(map[int64]bool, len(userIDs))
	for chunk := range chunks(userIDs, 512) {
		rows, err := q.queryRows(ctx, "SELECT DISTINCT user_id FROM "+table+" WHERE workspace_id = ? AND user_id IN ("+marks(len(chunk))+")",
			append([]any{workspaceID}, anys(chunk)...)...)
		ids, err := collect(rows, err, table, func(s scanner) (int64, error) {
			var id int64
			return id, s.Scan(&id)
		})
		if err != nil {
			return nil, err
		}
		for _, id := range ids {
			out[id] = true
		}
	}
	return out, nil
}

// PushSubscriptionOf returns the person's subscription of an endpoint, by
// its MAC; ENOTFOUND when the person has none.
func (q *Q) PushSubscriptionOf(ctx context.Context, workspaceID, userID int64, endpointHash []byte) (*core.PushSubscription, error) {
	p, err := scanPushSubscription(q.row(ctx, "SELECT "+pushSubscriptionColumns+" FROM push_subscriptions WHERE workspace_id = ? AND user_id = ? AND endpoint_hash = ?",
		workspaceID, userID, endpointHash))
	if errors.Is(err, sql.ErrNoRows) {
		return nil, core.ErrNotFound
	}
	return p, err
}

// DeletePushSubscription removes one of the person's subscriptions; false
// when the person has none with that id.
func (q *Q) DeletePushSubscription(ctx context.Context, workspaceID, userID, id int64) (bool, error) {
	return q.changedAny(ctx, "delete push subscription", "DELETE FROM push_subscriptions WHERE workspace_id = ? AND user_id = ? AND id = ?", workspaceID, userID, id)
}

// DeletePushEndpoint removes the person's subscription of an endpoint, by
// its MAC; false when the person has none.
func (q *Q) DeletePushEndpoint(ctx context.Context, workspaceID, userID int64, endpointHash []byte) (bool, error) {
	return q.changedAny(ctx, "delete push endpoint", "DELETE FROM push_subscriptions WHERE workspace_id = ? AND user_id = ? AND endpoint_hash = ?", workspaceID, userID, endpointHash)
}

// DeleteDeadPushSubscription removes a subscription its push service
// called gone, unless the browser subscribed again after notAfter (the
// subscription time the failed send read). One statement, so a
// subscription racing with it either lands first (and the row stays) or
// after (and makes a new row).
func (q *Q) DeleteDeadPushSubscription(ctx context.Context, id int64, notAfter time.Time) (bool, error) {
	return q.changedAny(ctx, "delete dead push subscription", "DELETE FROM push_subscriptions WHERE id = ? AND subscribed_at <= ?", id, ms(notAfter))
}

// TouchPushSubscriptions records that the subscriptions took a push now.
func (q *Q) TouchPushSubscriptions(ctx context.Context, ids []int64) error {
	if len(ids) == 0 {
		return nil
	}
	_, err := q.exec(ctx, "UPDATE push_subscriptions SET last_used_at = ? WHERE id IN ("+marks(len(ids))+")", append([]any{ms(q.now())}, anys(ids)...)...)
	if err != nil {
		return fmt.Errorf("touch push subscriptions: %w", err)
	}
	return nil
}

// VAPIDKeys returns the installation's VAPID key pair (the public key as
// base64url, the private key sealed), or core.ErrNotFound before the first
// was stored.
func (q *Q) VAPIDKeys(ctx context.Context) (public string, privateSealed []byte, err error) {
	err = q.row(ctx, "SELECT public_key, private_sealed FROM push_vapid_keys WHERE id = 1").Scan(&public, &privateSealed)
	if errors.Is(err, sql.ErrNoRows) {
		return "", nil, core.ErrNotFound
	}
	if err != nil {
		return "", nil, fmt.Errorf("read VAPID keys: %w", err)
	}
	return public, privateSealed, nil
}

// InsertVAPIDKeys stores a key pair unless one is stored already (then
// it does nothing): two instances starting at once both read back the
// one that was stored first.
func (q *Q) InsertVAPIDKeys(ctx context.Context, public string, privateSealed []byte) error {
	_, err := q.exec(ctx, "INSERT INTO push_vapid_keys (id, public_key, private_sealed, created_at) VALUES (1, ?, ?, ?) ON CONFLICT (id) DO NOTHING",
		public, privateSealed, ms(q.now()))
	if err != nil {
		return fmt.Errorf("store VAPID keys: %w", err)
	}
	return nil
}

// changedAny runs a statement and reports whether it changed a row.
func (q *Q) changedAny(ctx context.Context, what, query string, args ...any) (bool, error) {
	res, err := q.exec(ctx, query, args...)
	if err != nil {
		return false, fmt.Errorf("%s: %w", what, err)
	}
	n, err := res.RowsAffected()
	return n > 0, err
}
