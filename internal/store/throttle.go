package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"
)

// ThrottleState returns how many failures key has in the window that began
// at windowStart; a window older than window counts as empty.
func (q *Q) ThrottleState(ctx context.Context, key string, window time.Duration) (failures int, windowStart time.Time, err error) {
	var start int64
	err = q.row(ctx, "SELECT failures, window_start FROM auth_throttle WHERE key = ?", key).Scan(&failures, &start)
	if err != nil {
		if errors.Is(err, sql.ErrNoRows) {
			return 0, time.Time{}, nil
		}
		return 0, time.Time{}, fmt.Errorf("read throttle: %w", err)
	}
	windowStart = fromMS(start)
	if q.now().Sub(windowStart) >= window {
		return 0, time.Time{}, nil
	}
	return failures, windowStart, nil
}

// RecordFailure counts one failure for key in a fixed window.
func (q *Q) RecordFailure(ctx context.Context, key string, window time.Duration) error {
	now := q.now()
	_, err := q.exec(ctx, `INSERT INTO auth_throttle (key, failures, window_start) VALUES (?, 1, ?)
		ON CONFLICT (key) DO UPDATE SET
		failures = CASE WHEN auth_throttle.window_start <= ? THEN 1 ELSE auth_throttle.failures + 1 END,
		window_start = CASE WHEN auth_throttle.window_start <= ? THEN excluded.window_start ELSE auth_throttle.window_start END`,
		key, ms(now), ms(now.Add(-window)), ms(now.Add(-window)))
	if err != nil {
		return fmt.Errorf("record failure: %w", err)
	}
	return nil
}

// ClearFailures forgets key's failures (after a successful sign-in).
func (q *Q) ClearFailures(ctx context.Context, key string) error {
	if _, err := q.exec(ctx, "DELETE FROM auth_throttle WHERE key = ?", key); err != nil {
		return fmt.Errorf("clear throttle: %w", err)
	}
	return nil
}
