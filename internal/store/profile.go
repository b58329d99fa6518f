package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"
	"time"

	"roster/internal/core"
)

// PutEmailChange records (or replaces) the user's pending email change;
// caches of it hear of it by EmailChangeTag.
func (q *Q) PutEmailChange(ctx context.Context, c *core.EmailChange) error {
	if _, err := q.exec(ctx, "DELETE FROM email_changes WHERE user_id = ?", c.UserID); err != nil {
		return fmt.Errorf("replace email change: %w", err)
	}
	_, err := q.exec(ctx, "INSERT INTO email_changes (user_id, new_email, token_hash, created_at, expires_at) VALUES (?, ?, ?, ?, ?)",
		c.UserID, c.NewEmail, c.TokenHash, ms(c.CreatedAt), ms(c.ExpiresAt))
	if err != nil {
		return fmt.Errorf("save email change: %w", err)
	}
	return q.changed(ctx, EmailChangeTag(c.UserID))
}

// EmailChangeTag is the cache tag of a person's pending email change.
func EmailChangeTag(userID int64) string { return tag(EmailChangeKind, userID) }

const emailChangeCols = "user_id, new_email, token_hash, created_at, expires_at"

func scanEmailChange(row scanner) (*core.EmailChange, error) {
	var c core.EmailChange
	var created, expires int64
	if err := row.Scan(&c.UserID, &c.NewEmail, &c.TokenHash, &created, &expires); err != nil {
		if errors.Is(err, sql.ErrNoRows) {
			return nil, core.ErrNotFound
		}
		return nil, fmt.Errorf("read email change: %w", err)
	}
	c.CreatedAt, c.ExpiresAt = fromMS(created), fromMS(expires)
	return &c, nil
}

// PendingEmailChange returns the user's unexpired pending change.
func (q *Q) PendingEmailChange(ctx context.Context, userID int64) (*core.EmailChange, error) {
	return scanEmailChange(q.row(ctx, "SELECT "+emailChangeCols+" FROM email_changes WHERE user_id = ? AND expires_at > ?", userID, ms(q.now())))
}

// EmailChangeByTokenHash finds a pending change by its link's token hash.
func (q *Q) EmailChangeByTokenHash(ctx context.Context, hash []byte) (*core.EmailChange, error) {
	return scanEmailChange(q.row(ctx, "SELECT "+emailChangeCols+" FROM email_changes WHERE token_hash = ?", hash))
}

// DeleteEmailChange forgets the user's pending change; it reports whether
// there was one.
func (q *Q) DeleteEmailChange(ctx context.Context, userID int64) (bool, error) {
	res, err := q.exec(ctx, "DELETE FROM email_changes WHERE user_id = ?", userID)
	if err != nil {
		return false, fmt.Errorf("delete email change: %w", err)
	}
	n, _ := res.RowsAffected()
	if n == 0 {
		return false, nil
	}
	if err := q.changed(ctx, EmailChangeTag(userID)); err != nil {
		return false, fmt.Errorf("delete email change: %w", err)
	}
	return true, nil
}

// CreatePasswordReset inserts r and sets its ID.
func (q *Q) CreatePasswordReset(ctx context.Context, r *core.PasswordReset) error {
	var by sql.NullInt64
	if r.CreatedBy != 0 {
		by = sql.NullInt64{Int64: r.CreatedBy, Valid: true}
	}
	id, err := q.insert(ctx, "INSERT INTO password_resets (user_id, token_hash, created_by, created_at, expires_at) VALUES (?, ?, ?, ?, ?)",
		r.UserID, r.TokenHash, by, ms(r.CreatedAt), ms(r.ExpiresAt))
	if err != nil {
		return fmt.Errorf("create password reset: %w", err)
	}
	r.ID = id
	return nil
}

// PasswordResetByTokenHash finds a reset link by its token hash.
func (q *Q) PasswordResetByTokenHash(ctx context.Context, hash []byte) (*core.PasswordReset, error) {
	var r core.PasswordReset
	var by, used sql.NullInt64
	var created, expires int64
	err := q.row(ctx, "SELECT id, user_id, token_hash, created_by, created_at, expires_at, used_at FROM password_resets WHERE token_hash = ?", hash).
		Scan(&r.ID, &r.UserID, &r.TokenHash, &by, &created, &expires, &used)
	if err != nil {
		if errors.Is(err, sql.ErrNoRows) {
			return nil, core.ErrNotFound
		}
		return nil, fmt.Errorf("read password reset: %w", err)
	}
	r.CreatedBy, r.CreatedAt, r.ExpiresAt, r.UsedAt = by.Int64, fromMS(created), fromMS(expires), fromNullMS(used)
	return &r, nil
}

// UsePasswordReset marks a link used; false when it already was, so two
// racing uses cannot both succeed.
func (q *Q) UsePasswordReset(ctx context.Context, id int64) (bool, error) {
	res, err := q.exec(ctx, "UPDATE password_resets SET used_at = ? WHERE id = ? AND used_at IS NULL", ms(q.now()), id)
	if err != nil {
		return false, fmt.Errorf("use password reset: %w", err)
	}
	n, _ := res.RowsAffected()
	return n == 1, nil
}

// DeleteOtherSessions ends every session of the user except keepID (0 ends
// them all).
func (q *Q) DeleteOtherSessions(ctx context.Context, userID, keepID int64) error {
	if _, err := q.exec(ctx, "DELETE FROM sessions WHERE user_id = ? AND id <> ?", userID, keepID); err != nil {
		return fmt.Errorf("delete other sessions: %w", err)
	}
	return q.changed(ctx, UserTag(userID))
}

// Audit appends an entry to the audit log.
func (q *Q) Audit(ctx context.Context, e *core.AuditEntry) error {
	e.CreatedAt = q.now()
	var actor sql.NullInt64
	if e.ActorID != 0 {
		actor = sql.NullInt64{Int64: e.ActorID, Valid: true}
	}
	id, err := q.insert(ctx, "INSERT INTO audit_log (workspace_id, actor_id, target_id, action, detail, ip, created_at) VALUES (?, ?, ?, ?, ?, ?, ?)",
		e.WorkspaceID, actor, e.TargetID, string(e.Action), e.Detail, e.IP, ms(e.CreatedAt))
	if err != nil {
		return fmt.Errorf("write audit log: %w", err)
	}
	e.ID = id
	return nil
}

// AuditLog returns the newest entries about a user of the workspace.
func (q *Q) AuditLog(ctx context.Context, workspaceID, targetID int64, limit int) ([]*core.AuditEntry, error) {
	return q.WorkspaceAudit(ctx, AuditFilter{WorkspaceID: workspaceID, TargetID: targetID, Limit: limit})
}

// PendingEmailChanges maps user id to the pending new address for every
// unexpired change in a workspace: one query for a whole users page.
func (q *Q) PendingEmailChanges(ctx context.Context, workspaceID int64) (map[int64]string, error) {
	rows, err := q.query(ctx, `SELECT e.user_id, e.new_email FROM email_changes e JOIN users u ON u.id = e.user_id
		WHERE u.workspace_id = ? AND e.expires_at > ?`, workspaceID, ms(q.now()))
	pairs, err := collect(rows, err, "email changes", func(row scanner) ([2]any, error) {
		var id int64
		var email string
		err := row.Scan(&id, &email)
		return [2]any{id, email}, err
	})
	if err != nil {
		return nil, err
	}
	out := make(map[int64]string, len(pairs))
	for _, p := range pairs {
		out[p[0].(int64)] = p[1].(string)
	}
	return out, nil
}

// AuditFilter selects audit entries of a workspace, newest first.
type AuditFilter struct {
	WorkspaceID int64
	TargetID    int64  // 0: every user
	Action      string // exact action, or a prefix ending in "." ("two_factor."); "" for all
	Limit       int
}

// WorkspaceAudit returns audit entries matching f.
func (q *Q) WorkspaceAudit(ctx context.Context, f AuditFilter) ([]*core.AuditEntry, error) {
	where, args := "a.workspace_id = ?", []any{f.WorkspaceID}
	if f.TargetID != 0 {
		where += " AND a.target_id = ?"
		args = append(args, f.TargetID)
	}
	if f.Action != "" {
		if strings.HasSuffix(f.Action, ".") {
			// substr rather than LIKE: "_" in action names is no wildcard.
			where += " AND substr(a.action, 1, ?) = ?"
			args = append(args, len(f.Action), f.Action)
		} else {
			where += " AND a.action = ?"
			args = append(args, f.Action)
		}
	}
	if f.Limit <= 0 || f.Limit > 10000 {
		f.Limit = 10000
	}
	rows, err := q.query(ctx, `SELECT a.id, a.workspace_id, a.actor_id, COALESCE(u.name, ''), a.target_id, a.action, a.detail, a.ip, a.created_at
		FROM audit_log a LEFT JOIN users u ON u.id = a.actor_id
		WHERE `+where+` ORDER BY a.created_at DESC, a.id DESC LIMIT ?`, append(args, f.Limit)...)
	return collect(rows, err, "audit log", scanAudit)
}

func scanAudit(row scanner) (*core.AuditEntry, error) {
	var e core.AuditEntry
	var actor sql.NullInt64
	var action string
	var created int64
	if err := row.Scan(&e.ID, &e.WorkspaceID, &actor, &e.ActorName, &e.TargetID, &action, &e.Detail, &e.IP, &created); err != nil {
		return nil, fmt.Errorf("read audit entry: %w", err)
	}
	e.ActorID, e.Action, e.CreatedAt = actor.Int64, core.AuditAction(action), fromMS(created)
	return &e, nil
}

// LockUser holds the user's row until the transaction ends (PostgreSQL
// takes a row lock on the no-op UPDATE; SQLite already has one writer), so
// count-then-write rules per user cannot race.
func (q *Q) LockUser(ctx context.Context, userID int64) error {
	if _, err := q.exec(ctx, "UPDATE users SET email = email WHERE id = ?", userID); err != nil {
		return fmt.Errorf("lock user: %w", err)
	}
	return nil
}

// CountAudit counts the entries with action about target since a time and
// returns the oldest one's time (zero when none).
func (q *Q) CountAudit(ctx context.Context, targetID int64, action core.AuditAction, since time.Time) (int, time.Time, error) {
	var n int
	var oldest sql.NullInt64
	err := q.row(ctx, "SELECT COUNT(*), MIN(created_at) FROM audit_log WHERE target_id = ? AND action = ? AND created_at > ?",
		targetID, string(action), ms(since)).Scan(&n, &oldest)
	if err != nil {
		return 0, time.Time{}, fmt.Errorf("count audit: %w", err)
	}
	return n, fromNullMS(oldest), nil
}

// PutEmailUndo records the link that puts userID's old address back.
func (q *Q) PutEmailUndo(ctx context.Context, tokenHash []byte, userID int64, oldEmail, newEmail string, expires time.Time) error {
	_, err := q.exec(ctx, `INSERT INTO email_undos (token_hash, user_id, old_email, new_email, created_at, expires_at)
		VALUES (?, ?, ?, ?, ?, ?)`, tokenHash, userID, oldEmail, newEmail, ms(q.now()), ms(expires))
	if err != nil {
		return fmt.Errorf("save email undo: %w", err)
	}
	return nil
}

// SpendEmailUndo uses an unexpired, unused undo link in one statement, so
// two racing uses cannot both pass; ENOTFOUND otherwise.
func (q *Q) SpendEmailUndo(ctx context.Context, tokenHash []byte) (userID int64, oldEmail string, err error) {
	err = q.row(ctx, `UPDATE email_undos SET used_at = ? WHERE token_hash = ? AND used_at IS NULL AND expires_at > ?
		RETURNING user_id, old_email`, ms(q.now()), tokenHash, ms(q.now())).Scan(&userID, &oldEmail)
	if errors.Is(err, sql.ErrNoRows) {
		return 0, "", core.ErrNotFound
	}
	if err != nil {
		return 0, "", fmt.Errorf("spend email undo: %w", err)
	}
	return userID, oldEmail, nil
}

// EmailUndoUsable reports whether an undo link is unexpired and unused, for
// the page that asks before using it.
func (q *Q) EmailUndoUsable(ctx context.Context, tokenHash []byte) (bool, error) {
	var n int
	err := q.row(ctx, "SELECT COUNT(*) FROM email_undos WHERE token_hash = ? AND used_at IS NULL AND expires_at > ?",
		tokenHash, ms(q.now())).Scan(&n)
	if err != nil {
		return false, fmt.Errorf("read email undo: %w", err)
	}
	return n > 0, nil
}
