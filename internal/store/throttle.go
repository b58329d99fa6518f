package store

import (
	"context"
	"fmt"
	"time"
)

// TakeAttempt counts one attempt for key in a fixed window and returns the
// count including it and when the window began. Increment, window reset and
// read are one statement, so parallel attempts (also from other instances on
// the same database) each see a distinct count: a burst cannot all read
// "under the limit" before any of them is counted. The column keeps its old
// name: an attempt counts as a failure until ReleaseAttempt gives it back.
func (q *Q) TakeAttempt(ctx context.Context, key string, window time.Duration) (count int, windowStart time.Time, err error) {
	now := q.now()
	expired := ms(now.Add(-window))
	var start int64
	err = q.row(ctx, `INSERT INTO auth_throttle (key, failures, window_start) VALUES (?, 1, ?)
		ON CONFLICT (key) DO UPDATE SET
		failures = CASE WHEN auth_throttle.window_start <= ? THEN 1 ELSE auth_throttle.failures + 1 END,
		window_start = CASE WHEN auth_throttle.window_start <= ? THEN excluded.window_start ELSE auth_throttle.window_start END
		RETURNING failures, window_start`,
		key, ms(now), expired, expired).Scan(&count, &start)
	if err != nil {
		return 0, time.Time{}, fmt.Errorf("take throttle attempt: %w", err)
	}
	return count, fromMS(start), nil
}

// ReleaseAttempt gives back one attempt taken in the window that began at
// windowStart. Once that window has been replaced by a new one there is
// nothing to give back, so a late release never lowers a new window's count.
func (q *Q) ReleaseAttempt(ctx context.Context, key string, windowStart time.Time) error {
	_, err := q.exec(ctx, "UPDATE auth_throttle SET failures = failures - 1 WHERE key = ? AND window_start = ? AND failures > 0",
		key, ms(windowStart))
	if err != nil {
		return fmt.Errorf("release throttle attempt: %w", err)
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
