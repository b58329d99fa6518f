package store

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"math/bits"
	"strings"

	"roster/internal/core"
)

// NotifySettings returns the user's own switches; found is false when the
// user never saved any (the defaults apply).
func (q *Q) NotifySettings(ctx context.Context, userID int64) (s core.NotifySettings, found bool, err error) {
	var updated int64
	var quiet string
	var paused sql.NullInt64
	err = q.row(ctx, "SELECT receive, email_timing, digest_time, quiet_hours, paused_until, updated_at FROM notify_settings WHERE user_id = ?", userID).
		Scan(&s.Receive, &s.EmailTiming, &s.DigestTime, &quiet, &paused, &updated)
	if errors.Is(err, sql.ErrNoRows) {
		return s, false, nil
	}
	if err != nil {
		return s, false, fmt.Errorf("read notification settings: %w", err)
	}
	if quiet != "" {
		if err := json.Unmarshal([]byte(quiet), &s.Quiet); err != nil {
			return s, false, fmt.Errorf("read quiet hours: %w", err)
		}
	}
	s.UpdatedAt, s.PausedUntil = fromMS(updated), fromNullMS(paused)
	return s, true, nil
}

// NotifySettingsOf returns the saved switches of each of userIDs that has
// any.
func (q *Q) NotifySettingsOf(ctx context.Context, userIDs []int64) (map[int64]core.NotifySettings, error) {
	out := make(map[int64]core.NotifySettings, len(userIDs))
	for chunk := range chunks(userIDs, 512) {
		rows, err := q.queryRows(ctx, "SELECT user_id, receive, email_timing, digest_time FROM notify_settings WHERE user_id IN ("+marks(len(chunk))+")", anys(chunk)...)
		if err != nil {
			return nil, fmt.Errorf("read notification settings: %w", err)
		}
		for rows.Next() {
			var id int64
			var s core.NotifySettings
			if err := rows.Scan(&id, &s.Receive, &s.EmailTiming, &s.DigestTime); err != nil {
				rows.Close()
				return nil, fmt.Errorf("read notification settings: %w", err)
			}
			out[id] = s
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return nil, fmt.Errorf("read notification settings: %w", err)
		}
	}
	return out, nil
}

// SaveNotifySettings stores the user's switches.
func (q *Q) SaveNotifySettings(ctx context.Context, userID int64, s core.NotifySettings) error {
	quiet := ""
	if len(s.Quiet) > 0 {
		b, err := json.Marshal(s.Quiet)
		if err != nil {
			return fmt.Errorf("encode quiet hours: %w", err)
		}
		quiet = string(b)
	}
	_, err := q.exec(ctx, `INSERT INTO notify_settings (user_id, receive, email_timing, digest_time, quiet_hours, paused_until, updated_at)
		VALUES (?, ?, ?, ?, ?, ?, ?)
		ON CONFLICT (user_id) DO UPDATE SET receive = excluded.receive, email_timing = excluded.email_timing,
		digest_time = excluded.digest_time, quiet_hours = excluded.quiet_hours, paused_until = excluded.paused_until,
		updated_at = excluded.updated_at`,
		userID, s.Receive, s.EmailTiming, s.DigestTime, quiet, nullMS(s.PausedUntil), ms(q.now()))
	if err != nil {
		return fmt.Errorf("save notification settings: %w", err)
	}
	return nil
}

// NotifyPrefs returns the chosen matrix cells of userIDs in the workspace;
// include user 0 for the workspace's defaults.
func (q *Q) NotifyPrefs(ctx context.Context, workspaceID int64, userIDs []int64) ([]core.NotifyPref, error) {
	var out []core.NotifyPref
	for chunk := range chunks(userIDs, 512) {
		rows, err := q.queryRows(ctx, "SELECT user_id, type, channel, enabled FROM notify_prefs WHERE workspace_id = ? AND user_id IN ("+marks(len(chunk))+")",
			append([]any{workspaceID}, anys(chunk)...)...)
		prefs, err := collect(rows, err, "notification preferences", func(s scanner) (core.NotifyPref, error) {
			var p core.NotifyPref
			err := s.Scan(&p.UserID, &p.Type, &p.Channel, &p.Enabled)
			return p, err
		})
		if err != nil {
			return nil, err
		}
		out = append(out, prefs...)
	}
	return out, nil
}

// ReplaceNotifyPrefs makes set the chosen cells of userID (0: the
// workspace's defaults) for the cells it names, and forgets the cells in
// unset, which then follow the default again.
func (q *Q) ReplaceNotifyPrefs(ctx context.Context, workspaceID, userID int64, set []core.NotifyPref, unset []core.NotifyPref) error {
	for _, p := range unset {
		if _, err := q.exec(ctx, "DELETE FROM notify_prefs WHERE workspace_id = ? AND user_id = ? AND type = ? AND channel = ?",
			workspaceID, userID, p.Type, p.Channel); err != nil {
			return fmt.Errorf("forget notification preference: %w", err)
		}
	}
	for chunk := range chunks(set, 256) {
		args := make([]any, 0, len(chunk)*5)
		for _, p := range chunk {
			args = append(args, workspaceID, userID, p.Type, p.Channel, p.Enabled)
		}
		if _, err := q.execRows(ctx, "INSERT INTO notify_prefs (workspace_id, user_id, type, channel, enabled) VALUES "+tuples(len(chunk), 5)+
			" ON CONFLICT (workspace_id, user_id, type, channel) DO UPDATE SET enabled = excluded.enabled", args...); err != nil {
			return fmt.Errorf("save notification preferences: %w", err)
		}
	}
	return nil
}

// chunks yields s in slices whose lengths are powers of two, at most n (a
// power of two): 300 rows go as 256, 32, 8 and 4. A statement built per
// slice (VALUES lists, IN lists) then has a handful of texts, which stay
// prepared (stmts.go); a text per length would be parsed at every call,
// and parsing a multi-row insert costs more than running it.
func chunks[T any](s []T, n int) func(yield func([]T) bool) {
	return func(yield func([]T) bool) {
		for len(s) > 0 {
			k := 1 << (bits.Len(uint(min(n, len(s)))) - 1)
			if !yield(s[:k]) {
				return
			}
			s = s[k:]
		}
	}
}

// tuples returns the VALUES list of a multi-row insert: rows
// parenthesised groups of width placeholders.
func tuples(rows, width int) string {
	if rows <= 0 {
		return ""
	}
	one := "(" + marks(width) + ")"
	return strings.Repeat(one+", ", rows-1) + one
}

// marks returns n comma-separated placeholders.
func marks(n int) string {
	if n <= 0 {
		return ""
	}
	return strings.Repeat("?, ", n-1) + "?"
}

func anys[T any](s []T) []any {
	out := make([]any, len(s))
	for i, v := range s {
		out[i] = v
	}
	return out
}
