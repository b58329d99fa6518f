package store

import (
	"context"
	"database/sql"
	"fmt"
	"time"

	"roster/internal/core"
)

// DigestDue is a person whose daily digest is due.
type DigestDue struct {
	UserID, WorkspaceID int64
	DueAt               time.Time
	DigestTime          string // HH:MM
	LastDate            string // local date of the last digest queued, "" for none
	Timezone            string
}

// SetDigestSchedule stores when userID's next digest is due; a zero next
// means none (email at the time of the event). The settings row must
// exist.
func (q *Q) SetDigestSchedule(ctx context.Context, userID int64, next time.Time) error {
	if _, err := q.exec(ctx, "UPDATE notify_settings SET digest_next_at = ? WHERE user_id = ?", nullMS(next), userID); err != nil {
		return fmt.Errorf("schedule digest: %w", err)
	}
	return nil
}

// DigestSchedule returns userID's next digest instant (zero: none) and
// the local date of the last one queued.
func (q *Q) DigestSchedule(ctx context.Context, userID int64) (next time.Time, lastDate string, err error) {
	var at sql.NullInt64
	err = q.row(ctx, "SELECT digest_next_at, digest_last_date FROM notify_settings WHERE user_id = ?", userID).Scan(&at, &lastDate)
	if err == sql.ErrNoRows {
		return time.Time{}, "", nil
	}
	if err != nil {
		return time.Time{}, "", fmt.Errorf("read digest schedule: %w", err)
	}
	return fromNullMS(at), lastDate, nil
}

// DueDigests returns up to limit people of active accounts whose digest
// is due at now, earliest first, by the index on the due instant.
func (q *Q) DueDigests(ctx context.Context, now time.Time, limit int) ([]DigestDue, error) {
	rows, err := q.query(ctx, `SELECT s.user_id, u.workspace_id, s.digest_next_at, s.digest_time, s.digest_last_date, u.timezone
		FROM notify_settings s JOIN users u ON u.id = s.user_id
		WHERE s.digest_next_at IS NOT NULL AND s.digest_next_at <= ?
		ORDER BY s.digest_next_at LIMIT ?`, ms(now), limit)
	return collect(rows, err, "due digests", func(s scanner) (DigestDue, error) {
		var d DigestDue
		var at int64
		err := s.Scan(&d.UserID, &d.WorkspaceID, &at, &d.DigestTime, &d.LastDate, &d.Timezone)
		d.DueAt = fromMS(at)
		return d, err
	})
}

// QueueDigest moves d's schedule on to next and takes the key of its
// local date. It returns false, changing nothing, when the schedule moved
// meanwhile (the person changed it), and false with the schedule moved on
// when that date's digest was queued before.
func (q *Q) QueueDigest(ctx context.Context, d DigestDue, localDate string, next time.Time) (bool, error) {
	res, err := q.exec(ctx, `UPDATE notify_settings SET digest_next_at = ?, digest_last_date = ?
		WHERE user_id = ? AND digest_next_at = ?`, nullMS(next), localDate, d.UserID, ms(d.DueAt))
	if err != nil {
		return false, fmt.Errorf("move digest schedule: %w", err)
	}
	if n, err := res.RowsAffected(); err != nil || n == 0 {
		return false, err
	}
	now := ms(q.now())
	res, err = q.exec(ctx, `INSERT INTO notify_digests (user_id, local_date, workspace_id, due_at, status, created_at, updated_at)
		VALUES (?, ?, ?, ?, 'queued', ?, ?) ON CONFLICT (user_id, local_date) DO NOTHING`,
		d.UserID, localDate, d.WorkspaceID, ms(d.DueAt), now, now)
	if err != nil {
		return false, fmt.Errorf("take digest key: %w", err)
	}
	n, err := res.RowsAffected()
	return n > 0, err
}

// Digest is one queued or done digest.
type Digest struct {
	UserID, WorkspaceID int64
	LocalDate           string
	DueAt               time.Time
	Status              string // queued, sent, empty, failed
	Items               int
	Attempts            int
	LastError           string
}

// DigestRow returns userID's digest of localDate.
func (q *Q) DigestRow(ctx context.Context, userID int64, localDate string) (*Digest, error) {
	d := Digest{UserID: userID, LocalDate: localDate}
	var due int64
	err := q.row(ctx, `SELECT workspace_id, due_at, status, items, attempts, last_error FROM notify_digests
		WHERE user_id = ? AND local_date = ?`, userID, localDate).Scan(&d.WorkspaceID, &due, &d.Status, &d.Items, &d.Attempts, &d.LastError)
	if err == sql.ErrNoRows {
		return nil, core.ErrNotFound
	}
	if err != nil {
		return nil, fmt.Errorf("read digest: %w", err)
	}
	d.DueAt = fromMS(due)
	return &d, nil
}

// QueuedDigests returns the digests of userIDs for localDate still
// queued.
func (q *Q) QueuedDigests(ctx context.Context, localDate string, userIDs []int64) ([]*Digest, error) {
	var out []*Digest
	for chunk := range chunks(userIDs, 512) {
		rows, err := q.queryRows(ctx, `SELECT user_id, workspace_id, local_date, due_at, status, items, attempts, last_error FROM notify_digests
			WHERE local_date = ? AND status = 'queued' AND user_id IN (`+marks(len(chunk))+`)`, append([]any{localDate}, anys(chunk)...)...)
		ds, err := collect(rows, err, "digests", scanDigest)
		if err != nil {
			return nil, err
		}
		out = append(out, ds...)
	}
	return out, nil
}

func scanDigest(s scanner) (*Digest, error) {
	var d Digest
	var due int64
	err := s.Scan(&d.UserID, &d.WorkspaceID, &d.LocalDate, &due, &d.Status, &d.Items, &d.Attempts, &d.LastError)
	d.DueAt = fromMS(due)
	return &d, err
}

// Digests returns userID's digests, newest date first.
func (q *Q) Digests(ctx context.Context, userID int64, limit int) ([]*Digest, error) {
	rows, err := q.query(ctx, `SELECT user_id, workspace_id, local_date, due_at, status, items, attempts, last_error FROM notify_digests
		WHERE user_id = ? ORDER BY local_date DESC LIMIT ?`, userID, limit)
	return collect(rows, err, "digests", scanDigest)
}

// FinishDigest records an attempt at a queued digest: its new status
// (queued again after a temporary failure), the items it carried and the
// error. It returns false when the digest was no longer queued.
func (q *Q) FinishDigest(ctx context.Context, userID int64, localDate, status string, items int, lastError string) (bool, error) {
	res, err := q.exec(ctx, `UPDATE notify_digests SET status = ?, items = ?, attempts = attempts + 1, last_error = ?, updated_at = ?
		WHERE user_id = ? AND local_date = ? AND status = 'queued'`, status, items, lastError, ms(q.now()), userID, localDate)
	if err != nil {
		return false, fmt.Errorf("record digest: %w", err)
	}
	n, err := res.RowsAffected()
	return n > 0, err
}

// DigestContent is what one person's digest holds.
type DigestContent struct {
	Items []*core.Notification // newest first
	Total int
}

// DigestItems returns, for each of userIDs with a digest of localDate,
// the newest limit of their unread notifications whose email was held
// for the digest, created in the 24 hours before the digest was due (up
// to until), and how many there are in all. People with none are absent.
func (q *Q) DigestItems(ctx context.Context, localDate string, userIDs []int64, until time.Time, limit int) (map[int64]*DigestContent, error) {
	out := map[int64]*DigestContent{}
	for chunk := range chunks(userIDs, 512) {
		rows, err := q.queryRows(ctx, `SELECT id, workspace_id, user_id, event_id, type, category, title, body, url, popup, created_at, read_at, total FROM (
			SELECT n.id, n.workspace_id, n.user_id, n.event_id, n.type, n.category, n.title, n.body, n.url, n.popup, n.created_at, n.read_at,
				ROW_NUMBER() OVER (PARTITION BY n.user_id ORDER BY n.id DESC) AS place,
				COUNT(*) OVER (PARTITION BY n.user_id) AS total
			FROM notify_digests g
			JOIN notifications n ON n.user_id = g.user_id AND n.created_at > g.due_at - ? AND n.created_at <= ? AND n.read_at IS NULL
			JOIN notify_deliveries d ON d.event_id = n.event_id AND d.user_id = n.user_id AND d.channel = 'email'
				AND d.status = 'skipped' AND d.reason = 'digest'
			WHERE g.local_date = ? AND g.user_id IN (`+marks(len(chunk))+`)
		) x WHERE place <= ? ORDER BY user_id, id DESC`,
			append(append([]any{int64(24 * time.Hour / time.Millisecond), ms(until), localDate}, anys(chunk)...), limit)...)
		if err != nil {
			return nil, fmt.Errorf("digest items: %w", err)
		}
		for rows.Next() {
			var total int
			var n core.Notification
			var created int64
			var read sql.NullInt64
			if err := rows.Scan(&n.ID, &n.WorkspaceID, &n.UserID, &n.EventID, &n.Type, &n.Category, &n.Title, &n.Body, &n.URL, &n.Popup,
				&created, &read, &total); err != nil {
				rows.Close()
				return nil, fmt.Errorf("digest items: %w", err)
			}
			n.CreatedAt, n.ReadAt = fromMS(created), fromNullMS(read)
			c := out[n.UserID]
			if c == nil {
				c = &DigestContent{Total: total}
				out[n.UserID] = c
			}
			c.Items = append(c.Items, &n)
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return nil, fmt.Errorf("digest items: %w", err)
		}
	}
	return out, nil
}

// PruneDigests deletes digest records created before cutoff.
func (q *Q) PruneDigests(ctx context.Context, cutoff time.Time) error {
	if _, err := q.exec(ctx, "DELETE FROM notify_digests WHERE created_at < ?", ms(cutoff)); err != nil {
		return fmt.Errorf("prune digests: %w", err)
	}
	return nil
}
