package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"roster/internal/core"
)

const secondFactorCols = "user_id, method, secret_sealed, last_step, created_at, enabled_at"

// SecondFactors lists a user's methods, enabled or in setup.
func (q *Q) SecondFactors(ctx context.Context, userID int64) ([]*core.SecondFactor, error) {
	rows, err := q.query(ctx, "SELECT "+secondFactorCols+" FROM two_factor_methods WHERE user_id = ? ORDER BY method", userID)
	return collect(rows, err, "two-factor methods", func(row scanner) (*core.SecondFactor, error) {
		var m core.SecondFactor
		var method string
		var created int64
		var enabled sql.NullInt64
		if err := row.Scan(&m.UserID, &method, &m.SecretSealed, &m.LastStep, &created, &enabled); err != nil {
			return nil, fmt.Errorf("read two-factor method: %w", err)
		}
		m.Method, m.CreatedAt, m.EnabledAt = core.TwoFactorMethod(method), fromMS(created), fromNullMS(enabled)
		return &m, nil
	})
}

// PutSecondFactor starts (or restarts) the setup of a method.
func (q *Q) PutSecondFactor(ctx context.Context, m *core.SecondFactor) error {
	if _, err := q.exec(ctx, "DELETE FROM two_factor_methods WHERE user_id = ? AND method = ?", m.UserID, string(m.Method)); err != nil {
		return fmt.Errorf("replace two-factor method: %w", err)
	}
	_, err := q.exec(ctx, "INSERT INTO two_factor_methods (user_id, method, secret_sealed, last_step, created_at, enabled_at) VALUES (?, ?, ?, ?, ?, ?)",
		m.UserID, string(m.Method), m.SecretSealed, m.LastStep, ms(m.CreatedAt), nullMS(m.EnabledAt))
	if err != nil {
		return fmt.Errorf("save two-factor method: %w", err)
	}
	return nil
}

// EnableSecondFactor marks a method in setup as enabled.
func (q *Q) EnableSecondFactor(ctx context.Context, userID int64, method core.TwoFactorMethod) error {
	if _, err := q.exec(ctx, "UPDATE two_factor_methods SET enabled_at = ? WHERE user_id = ? AND method = ?", ms(q.now()), userID, string(method)); err != nil {
		return fmt.Errorf("enable two-factor method: %w", err)
	}
	return nil
}

// AcceptTOTPStep records step as used, only if it is newer than the last
// accepted one: two racing uses of one code cannot both pass.
func (q *Q) AcceptTOTPStep(ctx context.Context, userID, step int64) (bool, error) {
	res, err := q.exec(ctx, "UPDATE two_factor_methods SET last_step = ? WHERE user_id = ? AND method = 'totp' AND last_step < ?", step, userID, step)
	if err != nil {
		return false, fmt.Errorf("record totp step: %w", err)
	}
	n, _ := res.RowsAffected()
	return n == 1, nil
}

// DeleteSecondFactor removes one method, or every method when method is "".
func (q *Q) DeleteSecondFactor(ctx context.Context, userID int64, method core.TwoFactorMethod) error {
	var err error
	if method == "" {
		_, err = q.exec(ctx, "DELETE FROM two_factor_methods WHERE user_id = ?", userID)
	} else {
		_, err = q.exec(ctx, "DELETE FROM two_factor_methods WHERE user_id = ? AND method = ?", userID, string(method))
	}
	if err != nil {
		return fmt.Errorf("delete two-factor method: %w", err)
	}
	return nil
}

// DeletePendingSecondFactor removes a method still in setup (never one that
// is on); false when there was none.
func (q *Q) DeletePendingSecondFactor(ctx context.Context, userID int64, method core.TwoFactorMethod) (bool, error) {
	res, err := q.exec(ctx, "DELETE FROM two_factor_methods WHERE user_id = ? AND method = ? AND enabled_at IS NULL", userID, string(method))
	if err != nil {
		return false, fmt.Errorf("delete two-factor setup: %w", err)
	}
	n, _ := res.RowsAffected()
	return n == 1, nil
}

// ReplaceBackupCodes drops the user's backup codes and stores new hashes.
func (q *Q) ReplaceBackupCodes(ctx context.Context, userID int64, hashes [][]byte) error {
	if _, err := q.exec(ctx, "DELETE FROM backup_codes WHERE user_id = ?", userID); err != nil {
		return fmt.Errorf("delete backup codes: %w", err)
	}
	for _, h := range hashes {
		if _, err := q.exec(ctx, "INSERT INTO backup_codes (user_id, code_hash) VALUES (?, ?)", userID, h); err != nil {
			return fmt.Errorf("save backup code: %w", err)
		}
	}
	return nil
}

// UseBackupCode spends the unused code with that hash; false when there is
// none (wrong or already used).
func (q *Q) UseBackupCode(ctx context.Context, userID int64, hash []byte) (bool, error) {
	res, err := q.exec(ctx, "UPDATE backup_codes SET used_at = ? WHERE user_id = ? AND code_hash = ? AND used_at IS NULL", ms(q.now()), userID, hash)
	if err != nil {
		return false, fmt.Errorf("use backup code: %w", err)
	}
	n, _ := res.RowsAffected()
	return n > 0, nil
}

// BackupCodesLeft counts the user's unused backup codes.
func (q *Q) BackupCodesLeft(ctx context.Context, userID int64) (int, error) {
	var n int
	if err := q.row(ctx, "SELECT COUNT(*) FROM backup_codes WHERE user_id = ? AND used_at IS NULL", userID).Scan(&n); err != nil {
		return 0, fmt.Errorf("count backup codes: %w", err)
	}
	return n, nil
}

const challengeCols = `id, user_id, token_hash, purpose, session_kind, ip, device, created_at, expires_at, attempts,
	email_code_hash, email_sent_at, email_expires_at, email_attempts, done_at`

// CreateChallenge inserts c and sets its ID.
func (q *Q) CreateChallenge(ctx context.Context, c *core.Challenge) error {
	id, err := q.insert(ctx, `INSERT INTO two_factor_challenges (user_id, token_hash, purpose, session_kind, ip, device, created_at, expires_at)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?)`, c.UserID, c.TokenHash, c.Purpose, string(c.SessionKind), c.IP, c.Device, ms(c.CreatedAt), ms(c.ExpiresAt))
	if err != nil {
		return fmt.Errorf("create challenge: %w", err)
	}
	c.ID = id
	return nil
}

// ChallengeByTokenHash finds a challenge by its token hash.
func (q *Q) ChallengeByTokenHash(ctx context.Context, hash []byte) (*core.Challenge, error) {
	var c core.Challenge
	var kind string
	var created, expires int64
	var sent, emailExpires, done sql.NullInt64
	err := q.row(ctx, "SELECT "+challengeCols+" FROM two_factor_challenges WHERE token_hash = ?", hash).Scan(
		&c.ID, &c.UserID, &c.TokenHash, &c.Purpose, &kind, &c.IP, &c.Device, &created, &expires, &c.Attempts,
		&c.EmailCodeHash, &sent, &emailExpires, &c.EmailAttempts, &done)
	if err != nil {
		if errors.Is(err, sql.ErrNoRows) {
			return nil, core.ErrNotFound
		}
		return nil, fmt.Errorf("read challenge: %w", err)
	}
	c.SessionKind, c.CreatedAt, c.ExpiresAt = core.SessionKind(kind), fromMS(created), fromMS(expires)
	c.EmailSentAt, c.EmailExpiresAt, c.DoneAt = fromNullMS(sent), fromNullMS(emailExpires), fromNullMS(done)
	return &c, nil
}

// SaveChallenge writes a challenge's counters, email code and completion.
func (q *Q) SaveChallenge(ctx context.Context, c *core.Challenge) error {
	_, err := q.exec(ctx, `UPDATE two_factor_challenges SET attempts = ?, email_code_hash = ?, email_sent_at = ?, email_expires_at = ?,
		email_attempts = ?, done_at = ? WHERE id = ?`, c.Attempts, c.EmailCodeHash, nullMS(c.EmailSentAt), nullMS(c.EmailExpiresAt),
		c.EmailAttempts, nullMS(c.DoneAt), c.ID)
	if err != nil {
		return fmt.Errorf("save challenge: %w", err)
	}
	return nil
}

// TakeEmailCodeTry counts one try of challenge id's emailed code, while
// hash is still its code and it has fewer than max tries, and returns the
// tries so far; ok is false when no try is left. Count and check are one
// statement, so parallel tries cannot all read "tries left".
func (q *Q) TakeEmailCodeTry(ctx context.Context, id int64, hash []byte, max int) (tries int, ok bool, err error) {
	err = q.row(ctx, `UPDATE two_factor_challenges SET email_attempts = email_attempts + 1
		WHERE id = ? AND email_code_hash = ? AND email_attempts < ? RETURNING email_attempts`, id, hash, max).Scan(&tries)
	if errors.Is(err, sql.ErrNoRows) {
		return max, false, nil
	}
	if err != nil {
		return 0, false, fmt.Errorf("take email code try: %w", err)
	}
	return tries, true, nil
}

// SpendEmailCode consumes challenge id's emailed code if hash still is it;
// false when a parallel use spent it first, so one code passes once.
func (q *Q) SpendEmailCode(ctx context.Context, id int64, hash []byte) (bool, error) {
	res, err := q.exec(ctx, "UPDATE two_factor_challenges SET email_code_hash = NULL WHERE id = ? AND email_code_hash = ?", id, hash)
	if err != nil {
		return false, fmt.Errorf("spend email code: %w", err)
	}
	n, _ := res.RowsAffected()
	return n == 1, nil
}

// CountChallengeFailure adds one wrong code to challenge id, as an
// increment: parallel failures are all counted.
func (q *Q) CountChallengeFailure(ctx context.Context, id int64) error {
	if _, err := q.exec(ctx, "UPDATE two_factor_challenges SET attempts = attempts + 1 WHERE id = ?", id); err != nil {
		return fmt.Errorf("count challenge failure: %w", err)
	}
	return nil
}

// CompleteChallenge marks an open challenge done; false when it already was,
// so one challenge opens at most one session.
func (q *Q) CompleteChallenge(ctx context.Context, id int64) (bool, error) {
	res, err := q.exec(ctx, "UPDATE two_factor_challenges SET done_at = ? WHERE id = ? AND done_at IS NULL", ms(q.now()), id)
	if err != nil {
		return false, fmt.Errorf("complete challenge: %w", err)
	}
	n, _ := res.RowsAffected()
	return n == 1, nil
}

// WorkspaceSecondFactors maps each user of a workspace with an enabled
// method to those methods: one query for a users page.
func (q *Q) WorkspaceSecondFactors(ctx context.Context, workspaceID int64) (map[int64][]core.TwoFactorMethod, error) {
	rows, err := q.query(ctx, `SELECT m.user_id, m.method FROM two_factor_methods m JOIN users u ON u.id = m.user_id
		WHERE u.workspace_id = ? AND m.enabled_at IS NOT NULL ORDER BY m.user_id, m.method`, workspaceID)
	type pair struct {
		id     int64
		method core.TwoFactorMethod
	}
	pairs, err := collect(rows, err, "two-factor methods", func(row scanner) (pair, error) {
		var p pair
		err := row.Scan(&p.id, &p.method)
		return p, err
	})
	if err != nil {
		return nil, err
	}
	out := map[int64][]core.TwoFactorMethod{}
	for _, p := range pairs {
		out[p.id] = append(out[p.id], p.method)
	}
	return out, nil
}

// SeenDevice records a sign-in from (device, ip) and reports when that pair
// was last seen before (zero: never) and whether the user had any device on
// record at all.
func (q *Q) SeenDevice(ctx context.Context, userID int64, device, ip string) (last time.Time, known bool, err error) {
	var prev sql.NullInt64
	err = q.row(ctx, "SELECT MAX(last_at) FROM sign_in_devices WHERE user_id = ? AND device = ? AND ip = ?", userID, device, ip).Scan(&prev)
	if err != nil {
		return time.Time{}, false, fmt.Errorf("read devices: %w", err)
	}
	var n int
	if err := q.row(ctx, "SELECT COUNT(*) FROM sign_in_devices WHERE user_id = ?", userID).Scan(&n); err != nil {
		return time.Time{}, false, fmt.Errorf("count devices: %w", err)
	}
	_, err = q.exec(ctx, `INSERT INTO sign_in_devices (user_id, device, ip, last_at) VALUES (?, ?, ?, ?)
		ON CONFLICT (user_id, device, ip) DO UPDATE SET last_at = excluded.last_at`, userID, device, ip, ms(q.now()))
	if err != nil {
		return time.Time{}, false, fmt.Errorf("record device: %w", err)
	}
	return fromNullMS(prev), n > 0, nil
}
