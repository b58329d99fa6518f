package store

import (
	"context"
	"database/sql"
	"fmt"

	"roster/internal/core"
)

// DeliveryFilter narrows a workspace's delivery log; zero fields match all.
type DeliveryFilter struct {
	UserID  int64
	Channel string
	Status  string
	Before  int64 // a delivery id: older ones only (keyset paging)
}

// LoggedDelivery is a delivery with what the log shows beside it.
type LoggedDelivery struct {
	core.Delivery
	UserName string
	Type     string // the notification's type, "" when it was pruned
	Title    string // in the person's language
}

// WorkspaceDeliveries returns up to limit of the workspace's deliveries
// that match f, newest first.
func (q *Q) WorkspaceDeliveries(ctx context.Context, workspaceID int64, f DeliveryFilter, limit int) ([]*LoggedDelivery, error) {
	where, args := "d.workspace_id = ?", []any{workspaceID}
	if f.UserID > 0 {
		where += " AND d.user_id = ?"
		args = append(args, f.UserID)
	}
	if f.Channel != "" {
		where += " AND d.channel = ?"
		args = append(args, f.Channel)
	}
	if f.Status != "" {
		where += " AND d.status = ?"
		args = append(args, f.Status)
	}
	if f.Before > 0 {
		where += " AND d.id < ?"
		args = append(args, f.Before)
	}
	rows, err := q.query(ctx, `SELECT d.id, d.workspace_id, d.event_id, d.user_id, d.channel, d.status, d.reason, d.attempts, d.last_error,
		d.created_at, d.updated_at, u.name, n.type, n.title
		FROM notify_deliveries d JOIN users u ON u.id = d.user_id
		LEFT JOIN notifications n ON n.event_id = d.event_id AND n.user_id = d.user_id
		WHERE `+where+` ORDER BY d.id DESC LIMIT ?`, append(args, limit)...)
	return collect(rows, err, "delivery log", func(s scanner) (*LoggedDelivery, error) {
		var l LoggedDelivery
		var created, updated int64
		var typ, title sql.NullString
		err := s.Scan(&l.ID, &l.WorkspaceID, &l.EventID, &l.UserID, &l.Channel, &l.Status, &l.Reason, &l.Attempts, &l.LastError,
			&created, &updated, &l.UserName, &typ, &title)
		l.CreatedAt, l.UpdatedAt, l.Type, l.Title = fromMS(created), fromMS(updated), typ.String, title.String
		return &l, err
	})
}

// DeliveriesOfEvents returns userID's deliveries of eventIDs.
func (q *Q) DeliveriesOfEvents(ctx context.Context, userID int64, eventIDs []int64) ([]*core.Delivery, error) {
	var out []*core.Delivery
	for chunk := range chunks(eventIDs, 512) {
		rows, err := q.queryRows(ctx, "SELECT "+deliveryCols+" FROM notify_deliveries WHERE user_id = ? AND event_id IN ("+marks(len(chunk))+") ORDER BY id",
			append([]any{userID}, anys(chunk)...)...)
		ds, err := collect(rows, err, "deliveries", scanDelivery)
		if err != nil {
			return nil, err
		}
		out = append(out, ds...)
	}
	return out, nil
}

// RequeueDelivery puts a failed delivery of the workspace back in the
// queue, with a fresh retry window; false when there is no failed
// delivery id there.
func (q *Q) RequeueDelivery(ctx context.Context, workspaceID, id int64) (bool, error) {
	now := ms(q.now())
	res, err := q.exec(ctx, `UPDATE notify_deliveries SET status = 'queued', reason = '', created_at = ?, updated_at = ?
		WHERE id = ? AND workspace_id = ? AND status = 'failed'`, now, now, id, workspaceID)
	if err != nil {
		return false, fmt.Errorf("requeue delivery: %w", err)
	}
	n, err := res.RowsAffected()
	return n > 0, err
}

// DeliveryInWorkspace returns the workspace's delivery id.
func (q *Q) DeliveryInWorkspace(ctx context.Context, workspaceID, id int64) (*core.Delivery, error) {
	return scanDelivery(q.row(ctx, "SELECT "+deliveryCols+" FROM notify_deliveries WHERE id = ? AND workspace_id = ?", id, workspaceID))
}
