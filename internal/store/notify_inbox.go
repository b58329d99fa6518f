package store

import (
	"cmp"
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"roster/internal/core"
)

// InsertNotifyEvent stores e and sets its ID and CreatedAt. When the
// workspace already has an event with e's dedupe key, nothing is stored
// and duplicate is true, with e.ID set to the existing event's.
func (q *Q) InsertNotifyEvent(ctx context.Context, e *core.NotifyEvent) (duplicate bool, err error) {
	data, err := json.Marshal(e.Data)
	if err != nil {
		return false, fmt.Errorf("encode event data: %w", err)
	}
	recipients := []byte(`"all"`)
	if !e.AllUsers {
		if recipients, err = json.Marshal(e.Recipients); err != nil {
			return false, fmt.Errorf("encode recipients: %w", err)
		}
	}
	var dedupe sql.NullString
	if e.DedupeKey != "" {
		dedupe = sql.NullString{String: e.DedupeKey, Valid: true}
		// The key is taken first, in its own table that pruning never
		// touches: a key once used stays used.
		var taken int64
		err := q.row(ctx, `INSERT INTO notify_dedupe (workspace_id, dedupe_key, event_id) VALUES (?, ?, 0)
			ON CONFLICT (workspace_id, dedupe_key) DO NOTHING RETURNING event_id`, e.WorkspaceID, e.DedupeKey).Scan(&taken)
		if errors.Is(err, sql.ErrNoRows) {
			if err := q.row(ctx, "SELECT event_id FROM notify_dedupe WHERE workspace_id = ? AND dedupe_key = ?", e.WorkspaceID, e.DedupeKey).Scan(&e.ID); err != nil {
				return false, fmt.Errorf("read deduplicated event: %w", err)
			}
			return true, nil
		}
		if err != nil {
			return false, fmt.Errorf("take dedupe key: %w", err)
		}
	}
	e.CreatedAt = q.now()
	err = q.row(ctx, `INSERT INTO notify_events (workspace_id, type, data, recipients, actor_id, dedupe_key, occurred_at, created_at)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?) RETURNING id`,
		e.WorkspaceID, e.Type, string(data), string(recipients), e.ActorID, dedupe, ms(e.OccurredAt), ms(e.CreatedAt)).Scan(&e.ID)
	if err != nil {
		return false, fmt.Errorf("store event: %w", err)
	}
	if e.DedupeKey != "" {
		if _, err := q.exec(ctx, "UPDATE notify_dedupe SET event_id = ? WHERE workspace_id = ? AND dedupe_key = ?", e.ID, e.WorkspaceID, e.DedupeKey); err != nil {
			return false, fmt.Errorf("record dedupe key: %w", err)
		}
	}
	return false, nil
}

// NotifyEvent returns the event with id.
func (q *Q) NotifyEvent(ctx context.Context, id int64) (*core.NotifyEvent, error) {
	var e core.NotifyEvent
	var data, recipients string
	var dedupe sql.NullString
	var occurred, created int64
	err := q.row(ctx, `SELECT id, workspace_id, type, data, recipients, actor_id, dedupe_key, occurred_at, created_at
		FROM notify_events WHERE id = ?`, id).Scan(&e.ID, &e.WorkspaceID, &e.Type, &data, &recipients, &e.ActorID, &dedupe, &occurred, &created)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, core.ErrNotFound
	}
	if err != nil {
		return nil, fmt.Errorf("read event: %w", err)
	}
	d := json.NewDecoder(strings.NewReader(data))
	d.UseNumber()
	if err := d.Decode(&e.Data); err != nil {
		return nil, fmt.Errorf("decode event data: %w", err)
	}
	if recipients == `"all"` {
		e.AllUsers = true
	} else if err := json.Unmarshal([]byte(recipients), &e.Recipients); err != nil {
		return nil, fmt.Errorf("decode recipients: %w", err)
	}
	e.DedupeKey, e.OccurredAt, e.CreatedAt = dedupe.String, fromMS(occurred), fromMS(created)
	return &e, nil
}

// ActiveUserIDs returns up to limit ids of the workspace's active users
// after afterID, in id order: the recipients of an event for "all".
func (q *Q) ActiveUserIDs(ctx context.Context, workspaceID, afterID int64, limit int) ([]int64, error) {
	rows, err := q.query(ctx, "SELECT id FROM users WHERE workspace_id = ? AND state = 'active' AND id > ? ORDER BY id LIMIT ?",
		workspaceID, afterID, limit)
	return collect(rows, err, "active users", func(s scanner) (int64, error) {
		var id int64
		err := s.Scan(&id)
		return id, err
	})
}

// UsersByID returns those of ids that are users of the workspace.
func (q *Q) UsersByID(ctx context.Context, workspaceID int64, ids []int64) ([]*core.User, error) {
	var out []*core.User
	for chunk := range chunks(ids, 512) {
		// +workspace_id: a filter, not an index key, so SQLite seeks each
		// id by its primary key (planned on users_workspace_name, it had
		// read the whole workspace for every chunk of 16 or more ids).
		rows, err := q.queryRows(ctx, "SELECT "+userCols+" FROM users WHERE +workspace_id = ? AND id IN ("+marks(len(chunk))+") ORDER BY id",
			append([]any{workspaceID}, anys(chunk)...)...)
		users, err := collect(rows, err, "users", scanUser)
		if err != nil {
			return nil, err
		}
		out = append(out, users...)
	}
	return out, nil
}

// InsertNotifications stores the in-app notifications that do not exist
// yet (one per event and user) and returns those it stored, with IDs set.
// A retried fan-out stores nothing twice.
func (q *Q) InsertNotifications(ctx context.Context, ns []*core.Notification) ([]*core.Notification, error) {
	now := q.now()
	var stored []*core.Notification
	for chunk := range chunks(ns, 256) {
		type key struct{ event, user int64 }
		byKey := make(map[key]*core.Notification, len(chunk))
		args := make([]any, 0, len(chunk)*10)
		for _, n := range chunk {
			n.CreatedAt = time.UnixMilli(ms(now)) // as a read gives it back
			args = append(args, n.WorkspaceID, n.UserID, n.EventID, n.Type, n.Category, n.Title, n.Body, n.URL, n.Popup, ms(now))
			byKey[key{n.EventID, n.UserID}] = n
		}
		rows, err := q.queryRows(ctx, `INSERT INTO notifications (workspace_id, user_id, event_id, type, category, title, body, url, popup, created_at)
			VALUES `+tuples(len(chunk), 10)+` ON CONFLICT (event_id, user_id) DO NOTHING RETURNING id, event_id, user_id`, args...)
		if err != nil {
			return nil, fmt.Errorf("store notifications: %w", err)
		}
		for rows.Next() {
			var id, event, user int64
			if err := rows.Scan(&id, &event, &user); err != nil {
				rows.Close()
				return nil, fmt.Errorf("store notifications: %w", err)
			}
			if n := byKey[key{event, user}]; n != nil {
				n.ID = id
				stored = append(stored, n)
			}
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return nil, fmt.Errorf("store notifications: %w", err)
		}
	}
	return stored, nil
}

// AddToInboxes counts each of notifications as one new unread one in its
// person's inbox, numbers them in each person's feed (in id order) and
// returns the feed entries. One row per person and statement: the inbox
// rows are locked by it, in person order, so feed numbers become visible
// in order and two fan-outs cannot deadlock.
func (q *Q) AddToInboxes(ctx context.Context, notifications []*core.Notification) ([]core.FeedEntry, error) {
	now := q.now()
	byUser := make(map[int64][]*core.Notification)
	var users []int64
	for _, n := range notifications {
		if byUser[n.UserID] == nil {
			users = append(users, n.UserID)
		}
		byUser[n.UserID] = append(byUser[n.UserID], n)
	}
	slices.Sort(users)
	var feed []core.FeedEntry
	for chunk := range chunks(users, 512) {
		args := make([]any, 0, len(chunk)*3)
		for _, u := range chunk {
			n := len(byUser[u])
			args = append(args, u, n, n)
		}
		rows, err := q.queryRows(ctx, "INSERT INTO notify_inbox (user_id, unread, seq) VALUES "+tuples(len(chunk), 3)+
			" ON CONFLICT (user_id) DO UPDATE SET unread = notify_inbox.unread + excluded.unread, seq = notify_inbox.seq + excluded.seq RETURNING user_id, seq, unread", args...)
		type after struct{ user, seq, unread int64 }
		rets, err := collect(rows, err, "inboxes", func(s scanner) (after, error) {
			var a after
			err := s.Scan(&a.user, &a.seq, &a.unread)
			return a, err
		})
		if err != nil {
			return nil, err
		}
		var entries []core.FeedEntry
		for _, r := range rets {
			ns := byUser[r.user]
			slices.SortFunc(ns, func(a, b *core.Notification) int { return cmp.Compare(a.ID, b.ID) })
			k := int64(len(ns))
			for i, n := range ns {
				entries = append(entries, core.FeedEntry{UserID: r.user, Seq: r.seq - k + int64(i) + 1, Kind: core.FeedNew,
					NotificationID: n.ID, Unread: r.unread - k + int64(i) + 1, CreatedAt: now})
			}
		}
		if err := q.insertFeed(ctx, entries); err != nil {
			return nil, err
		}
		feed = append(feed, entries...)
	}
	q.inboxesChanged(ctx, users)
	return feed, nil
}

// InboxTag is the cache tag of a person's unread count.
func InboxTag(userID int64) string { return tag(InboxKind, userID) }

// inboxesChanged tells this instance's caches, when q's transaction
// commits, that the users' unread counts moved. Only SQLite's instance
// caches counts (notify.Service), so on PostgreSQL nothing is sent: a
// NOTIFY naming every recipient of every fan-out would cost more than
// the reads it saves.
func (q *Q) inboxesChanged(ctx context.Context, users []int64) {
	if q.db.Engine == Postgres || len(users) == 0 {
		return
	}
	tags := make([]string, len(users))
	for i, u := range users {
		tags[i] = InboxTag(u)
	}
	_ = q.changed(ctx, tags...) // sends nothing on SQLite, so no error
}

func (q *Q) insertFeed(ctx context.Context, entries []core.FeedEntry) error {
	for chunk := range chunks(entries, 256) {
		args := make([]any, 0, len(chunk)*6)
		for _, e := range chunk {
			args = append(args, e.UserID, e.Seq, e.Kind, e.NotificationID, e.Unread, ms(e.CreatedAt))
		}
		if _, err := q.execRows(ctx, "INSERT INTO notify_feed (user_id, seq, kind, notification_id, unread, created_at) VALUES "+tuples(len(chunk), 6), args...); err != nil {
			return fmt.Errorf("store feed: %w", err)
		}
	}
	return nil
}

// ErrNoChange is returned by SetRead and ReadAll when nothing changed; the
// caller rolls back, so no feed number is spent.
var ErrNoChange = errors.New("store: nothing changed")

// SetRead marks the user's notification read (or unread) and, when that
// changed it, adjusts the unread count and returns the feed entry;
// ErrNoChange when it already was. ENOTFOUND for a notification that is
// not the user's.
func (q *Q) SetRead(ctx context.Context, userID, id int64, read bool) (*core.FeedEntry, error) {
	now := q.now()
	// The inbox row first: it serialises this user's count changes.
	var seq int64
	if err := q.row(ctx, "UPDATE notify_inbox SET seq = seq + 1 WHERE user_id = ? RETURNING seq", userID).Scan(&seq); err != nil {
		if errors.Is(err, sql.ErrNoRows) {
			return nil, core.ErrNotFound
		}
		return nil, fmt.Errorf("lock inbox: %w", err)
	}
	var res sql.Result
	var err error
	kind, delta := core.FeedRead, int64(-1)
	if read {
		res, err = q.exec(ctx, "UPDATE notifications SET read_at = ? WHERE id = ? AND user_id = ? AND read_at IS NULL", ms(now), id, userID)
	} else {
		kind, delta = core.FeedUnread, 1
		res, err = q.exec(ctx, "UPDATE notifications SET read_at = NULL WHERE id = ? AND user_id = ? AND read_at IS NOT NULL", id, userID)
	}
	if err != nil {
		return nil, fmt.Errorf("mark notification: %w", err)
	}
	n, err := res.RowsAffected()
	if err != nil {
		return nil, fmt.Errorf("mark notification: %w", err)
	}
	if n == 0 {
		var one int
		if err := q.row(ctx, "SELECT 1 FROM notifications WHERE id = ? AND user_id = ?", id, userID).Scan(&one); errors.Is(err, sql.ErrNoRows) {
			return nil, core.ErrNotFound
		} else if err != nil {
			return nil, fmt.Errorf("read notification: %w", err)
		}
		return nil, ErrNoChange
	}
	e := core.FeedEntry{UserID: userID, Seq: seq, Kind: kind, NotificationID: id, CreatedAt: now}
	if err := q.row(ctx, "UPDATE notify_inbox SET unread = unread + ? WHERE user_id = ? RETURNING unread", delta, userID).Scan(&e.Unread); err != nil {
		return nil, fmt.Errorf("count unread: %w", err)
	}
	q.inboxesChanged(ctx, []int64{userID})
	if err := q.insertFeed(ctx, []core.FeedEntry{e}); err != nil {
		return nil, err
	}
	return &e, nil
}

// ReadAll marks every notification of the user read; nil when none was
// unread.
func (q *Q) ReadAll(ctx context.Context, userID int64) (*core.FeedEntry, error) {
	now := q.now()
	var seq int64
	if err := q.row(ctx, "UPDATE notify_inbox SET seq = seq + 1 WHERE user_id = ? RETURNING seq", userID).Scan(&seq); err != nil {
		if errors.Is(err, sql.ErrNoRows) {
			return nil, nil
		}
		return nil, fmt.Errorf("lock inbox: %w", err)
	}
	res, err := q.exec(ctx, "UPDATE notifications SET read_at = ? WHERE user_id = ? AND read_at IS NULL", ms(now), userID)
	if err != nil {
		return nil, fmt.Errorf("mark all read: %w", err)
	}
	n, err := res.RowsAffected()
	if err != nil {
		return nil, err
	}
	if n == 0 {
		return nil, ErrNoChange
	}
	e := core.FeedEntry{UserID: userID, Seq: seq, Kind: core.FeedReadAll, CreatedAt: now}
	if err := q.row(ctx, "UPDATE notify_inbox SET unread = unread - ? WHERE user_id = ? RETURNING unread", n, userID).Scan(&e.Unread); err != nil {
		return nil, fmt.Errorf("count unread: %w", err)
	}
	q.inboxesChanged(ctx, []int64{userID})
	if err := q.insertFeed(ctx, []core.FeedEntry{e}); err != nil {
		return nil, err
	}
	return &e, nil
}

// UnreadCount returns the user's exact unread count and last feed number.
func (q *Q) UnreadCount(ctx context.Context, userID int64) (unread, seq int64, err error) {
	err = q.row(ctx, "SELECT unread, seq FROM notify_inbox WHERE user_id = ?", userID).Scan(&unread, &seq)
	if errors.Is(err, sql.ErrNoRows) {
		return 0, 0, nil
	}
	if err != nil {
		return 0, 0, fmt.Errorf("count unread: %w", err)
	}
	return unread, seq, nil
}

// FeedSince returns up to limit of the user's feed entries after seq.
func (q *Q) FeedSince(ctx context.Context, userID, seq int64, limit int) ([]core.FeedEntry, error) {
	rows, err := q.query(ctx, `SELECT user_id, seq, kind, notification_id, unread, created_at FROM notify_feed
		WHERE user_id = ? AND seq > ? ORDER BY seq LIMIT ?`, userID, seq, limit)
	return collect(rows, err, "feed", func(s scanner) (core.FeedEntry, error) {
		var e core.FeedEntry
		var created int64
		err := s.Scan(&e.UserID, &e.Seq, &e.Kind, &e.NotificationID, &e.Unread, &created)
		e.CreatedAt = fromMS(created)
		return e, err
	})
}

// OldestFeedSeq returns the first feed number still kept for the user (0
// when none is).
func (q *Q) OldestFeedSeq(ctx context.Context, userID int64) (int64, error) {
	var seq sql.NullInt64
	if err := q.row(ctx, "SELECT MIN(seq) FROM notify_feed WHERE user_id = ?", userID).Scan(&seq); err != nil {
		return 0, fmt.Errorf("read feed: %w", err)
	}
	return seq.Int64, nil
}

const notificationCols = "id, workspace_id, user_id, event_id, type, category, title, body, url, popup, created_at, read_at"

func scanNotification(s scanner) (*core.Notification, error) {
	var n core.Notification
	var created int64
	var read sql.NullInt64
	if err := s.Scan(&n.ID, &n.WorkspaceID, &n.UserID, &n.EventID, &n.Type, &n.Category, &n.Title, &n.Body, &n.URL, &n.Popup, &created, &read); err != nil {
		if errors.Is(err, sql.ErrNoRows) {
			return nil, core.ErrNotFound
		}
		return nil, fmt.Errorf("read notification: %w", err)
	}
	n.CreatedAt, n.ReadAt = fromMS(created), fromNullMS(read)
	return &n, nil
}

// Notifications returns up to limit of the user's notifications older
// than before (an id; 0 for the newest), newest first, of one category
// when category is not "". Keyset paging: new arrivals never shift a page.
func (q *Q) Notifications(ctx context.Context, userID, before int64, category string, limit int) ([]*core.Notification, error) {
	where, args := "user_id = ?", []any{userID}
	if before > 0 {
		where += " AND id < ?"
		args = append(args, before)
	}
	if category != "" {
		where += " AND category = ?"
		args = append(args, category)
	}
	rows, err := q.query(ctx, "SELECT "+notificationCols+" FROM notifications WHERE "+where+" ORDER BY id DESC LIMIT ?", append(args, limit)...)
	return collect(rows, err, "notifications", scanNotification)
}

// Notification returns the user's notification with id.
func (q *Q) Notification(ctx context.Context, userID, id int64) (*core.Notification, error) {
	return scanNotification(q.row(ctx, "SELECT "+notificationCols+" FROM notifications WHERE id = ? AND user_id = ?", id, userID))
}

// InsertDeliveries stores the deliveries that do not exist yet (one per
// event, user and channel) and returns the queued ones it stored, with IDs
// set: their jobs need them. Skipped ones, most of a fan-out's rows, are
// stored without reading anything back.
func (q *Q) InsertDeliveries(ctx context.Context, ds []*core.Delivery) ([]*core.Delivery, error) {
	now := q.now()
	var queued, rest []*core.Delivery
	for _, d := range ds {
		d.CreatedAt, d.UpdatedAt = now, now
		if d.Status == core.DeliveryQueued {
			queued = append(queued, d)
		} else {
			rest = append(rest, d)
		}
	}
	for chunk := range chunks(rest, 256) {
		values, args := deliveryValues(chunk)
		if _, err := q.execRows(ctx, `INSERT INTO notify_deliveries (workspace_id, event_id, user_id, channel, status, reason, created_at, updated_at)
			VALUES `+values+` ON CONFLICT (event_id, user_id, channel) DO NOTHING`, args...); err != nil {
			return nil, fmt.Errorf("store deliveries: %w", err)
		}
	}
	var stored []*core.Delivery
	for chunk := range chunks(queued, 256) {
		type key struct {
			event, user int64
			channel     string
		}
		byKey := make(map[key]*core.Delivery, len(chunk))
		for _, d := range chunk {
			byKey[key{d.EventID, d.UserID, d.Channel}] = d
		}
		values, args := deliveryValues(chunk)
		rows, err := q.queryRows(ctx, `INSERT INTO notify_deliveries (workspace_id, event_id, user_id, channel, status, reason, created_at, updated_at)
			VALUES `+values+` ON CONFLICT (event_id, user_id, channel) DO NOTHING RETURNING id, event_id, user_id, channel`, args...)
		if err != nil {
			return nil, fmt.Errorf("store deliveries: %w", err)
		}
		for rows.Next() {
			var id, event, user int64
			var ch string
			if err := rows.Scan(&id, &event, &user, &ch); err != nil {
				rows.Close()
				return nil, fmt.Errorf("store deliveries: %w", err)
			}
			if d := byKey[key{event, user, ch}]; d != nil {
				d.ID = id
				stored = append(stored, d)
			}
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return nil, fmt.Errorf("store deliveries: %w", err)
		}
	}
	return stored, nil
}

// deliveryValues is the VALUES list of ds and its arguments.
func deliveryValues(ds []*core.Delivery) (string, []any) {
	args := make([]any, 0, len(ds)*8)
	for _, d := range ds {
		args = append(args, d.WorkspaceID, d.EventID, d.UserID, d.Channel, d.Status, d.Reason, ms(d.CreatedAt), ms(d.UpdatedAt))
	}
	return tuples(len(ds), 8), args
}

const deliveryCols = "id, workspace_id, event_id, user_id, channel, status, reason, attempts, last_error, created_at, updated_at"

func scanDelivery(s scanner) (*core.Delivery, error) {
	var d core.Delivery
	var created, updated int64
	if err := s.Scan(&d.ID, &d.WorkspaceID, &d.EventID, &d.UserID, &d.Channel, &d.Status, &d.Reason, &d.Attempts, &d.LastError, &created, &updated); err != nil {
		if errors.Is(err, sql.ErrNoRows) {
			return nil, core.ErrNotFound
		}
		return nil, fmt.Errorf("read delivery: %w", err)
	}
	d.CreatedAt, d.UpdatedAt = fromMS(created), fromMS(updated)
	return &d, nil
}

// Delivery returns the delivery with id.
func (q *Q) Delivery(ctx context.Context, id int64) (*core.Delivery, error) {
	return scanDelivery(q.row(ctx, "SELECT "+deliveryCols+" FROM notify_deliveries WHERE id = ?", id))
}

// Deliveries returns up to limit of a user's deliveries older than before
// (0: the newest), newest first, in the workspace.
func (q *Q) Deliveries(ctx context.Context, workspaceID, userID, before int64, limit int) ([]*core.Delivery, error) {
	where, args := "workspace_id = ? AND user_id = ?", []any{workspaceID, userID}
	if before > 0 {
		where += " AND id < ?"
		args = append(args, before)
	}
	rows, err := q.query(ctx, "SELECT "+deliveryCols+" FROM notify_deliveries WHERE "+where+" ORDER BY id DESC LIMIT ?", append(args, limit)...)
	return collect(rows, err, "deliveries", scanDelivery)
}

// RecordAttempt counts an attempt at a queued delivery and sets its status
// (queued again for a retry), reason and error. It changes nothing once
// the delivery is no longer queued, and reports whether it changed it.
func (q *Q) RecordAttempt(ctx context.Context, id int64, status, reason, lastError string) (bool, error) {
	res, err := q.exec(ctx, `UPDATE notify_deliveries SET attempts = attempts + 1, status = ?, reason = ?, last_error = ?, updated_at = ?
		WHERE id = ? AND status = 'queued'`, status, reason, lastError, ms(q.now()), id)
	if err != nil {
		return false, fmt.Errorf("record delivery attempt: %w", err)
	}
	n, err := res.RowsAffected()
	return n > 0, err
}

// PruneNotifications deletes up to batch notifications created before
// cutoff, keeping each inbox's unread count exact, and returns how many
// it deleted. The owners' inbox rows are locked first (in user order, as
// everywhere), then the rows are deleted and the counts lowered by what
// the delete itself saw unread: a read or unread committed meanwhile is
// counted once.
func (q *Q) PruneNotifications(ctx context.Context, cutoff time.Time, batch int) (int, error) {
	rows, err := q.query(ctx, "SELECT id, user_id FROM notifications WHERE created_at < ? ORDER BY created_at, id LIMIT ?", ms(cutoff), batch)
	type old struct{ id, user int64 }
	olds, err := collect(rows, err, "old notifications", func(s scanner) (old, error) {
		var o old
		err := s.Scan(&o.id, &o.user)
		return o, err
	})
	if err != nil || len(olds) == 0 {
		return 0, err
	}
	ids := make([]int64, len(olds))
	var users []int64
	for i, o := range olds {
		ids[i] = o.id
		users = append(users, o.user)
	}
	slices.Sort(users)
	users = slices.Compact(users)
	if q.db.Engine == Postgres {
		if _, err := q.exec(ctx, "SELECT user_id FROM notify_inbox WHERE user_id IN ("+marks(len(users))+") ORDER BY user_id FOR UPDATE", anys(users)...); err != nil {
			return 0, fmt.Errorf("prune: lock inboxes: %w", err)
		}
	}
	rows, err = q.query(ctx, "DELETE FROM notifications WHERE id IN ("+marks(len(ids))+") RETURNING user_id, read_at IS NULL", anys(ids)...)
	type gone struct {
		user   int64
		unread bool
	}
	deleted, err := collect(rows, err, "pruned notifications", func(s scanner) (gone, error) {
		var g gone
		err := s.Scan(&g.user, &g.unread)
		return g, err
	})
	if err != nil {
		return 0, err
	}
	unread := make(map[int64]int64)
	for _, g := range deleted {
		if g.unread {
			unread[g.user]++
		}
	}
	for _, user := range users {
		if n := unread[user]; n > 0 {
			if _, err := q.exec(ctx, "UPDATE notify_inbox SET unread = unread - ? WHERE user_id = ?", n, user); err != nil {
				return 0, fmt.Errorf("prune: count unread: %w", err)
			}
		}
	}
	q.inboxesChanged(ctx, users)
	return len(deleted), nil
}

// PruneNotifyEvents deletes up to batch events (and their deliveries)
// created before cutoff that no notification refers to any more, and feed
// entries before cutoff. It returns how many events it deleted.
func (q *Q) PruneNotifyEvents(ctx context.Context, cutoff time.Time, batch int) (int, error) {
	if _, err := q.exec(ctx, "DELETE FROM notify_feed WHERE created_at < ?", ms(cutoff)); err != nil {
		return 0, fmt.Errorf("prune feed: %w", err)
	}
	res, err := q.exec(ctx, `DELETE FROM notify_events WHERE id IN (SELECT e.id FROM notify_events e WHERE e.created_at < ?
		AND NOT EXISTS (SELECT 1 FROM notifications n WHERE n.event_id = e.id) ORDER BY e.created_at, e.id LIMIT ?)`, ms(cutoff), batch)
	if err != nil {
		return 0, fmt.Errorf("prune events: %w", err)
	}
	n, err := res.RowsAffected()
	return int(n), err
}

// NotificationOfEvent returns the user's notification of an event.
func (q *Q) NotificationOfEvent(ctx context.Context, userID, eventID int64) (*core.Notification, error) {
	return scanNotification(q.row(ctx, "SELECT "+notificationCols+" FROM notifications WHERE event_id = ? AND user_id = ?", eventID, userID))
}

// HoldDelivery notes why a queued delivery waits (quiet hours); it stays
// queued.
func (q *Q) HoldDelivery(ctx context.Context, id int64, reason string) error {
	if _, err := q.exec(ctx, "UPDATE notify_deliveries SET reason = ?, updated_at = ? WHERE id = ? AND status = 'queued'", reason, ms(q.now()), id); err != nil {
		return fmt.Errorf("hold delivery: %w", err)
	}
	return nil
}
