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

const sessionCols = "id, user_id, kind, token_hash, created_at, last_seen_at, expires_at, ip, device"

func scanSession(row scanner) (*core.Session, error) {
	var s core.Session
	var kind string
	var created, seen, expires int64
	if err := row.Scan(&s.ID, &s.UserID, &kind, &s.TokenHash, &created, &seen, &expires, &s.IP, &s.Device); err != nil {
		if errors.Is(err, sql.ErrNoRows) {
			return nil, core.ErrNotFound
		}
		return nil, fmt.Errorf("read session: %w", err)
	}
	s.Kind = core.SessionKind(kind)
	s.CreatedAt, s.LastSeenAt, s.ExpiresAt = fromMS(created), fromMS(seen), fromMS(expires)
	return &s, nil
}

// CreateSession inserts s and sets its ID.
func (q *Q) CreateSession(ctx context.Context, s *core.Session) error {
	id, err := q.insert(ctx, "INSERT INTO sessions (user_id, kind, token_hash, created_at, last_seen_at, expires_at, ip, device) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
		s.UserID, string(s.Kind), s.TokenHash, ms(s.CreatedAt), ms(s.LastSeenAt), ms(s.ExpiresAt), s.IP, s.Device)
	if err != nil {
		return fmt.Errorf("create session: %w", err)
	}
	s.ID = id
	return nil
}

// SessionByTokenHash finds a session by the hash of its token.
func (q *Q) SessionByTokenHash(ctx context.Context, hash []byte) (*core.Session, error) {
	return scanSession(q.row(ctx, "SELECT "+sessionCols+" FROM sessions WHERE token_hash = ?", hash))
}

// DeleteSession removes one session.
func (q *Q) DeleteSession(ctx context.Context, id int64) error {
	if _, err := q.exec(ctx, "DELETE FROM sessions WHERE id = ?", id); err != nil {
		return fmt.Errorf("delete session: %w", err)
	}
	return q.changed(ctx, SessionTag(id))
}

// DeleteEndedSession removes a session that has expired (expires_at at or
// before now) or been idle since idleSince (last seen then or before),
// judged on the row as it is when deleted, and reports whether it did: a
// use written since the caller read it (a batch of this or another
// instance) keeps it.
func (q *Q) DeleteEndedSession(ctx context.Context, id int64, now, idleSince time.Time) (bool, error) {
	res, err := q.exec(ctx, "DELETE FROM sessions WHERE id = ? AND (expires_at <= ? OR last_seen_at <= ?)", id, ms(now), ms(idleSince))
	if err != nil {
		return false, fmt.Errorf("delete ended session: %w", err)
	}
	if n, err := res.RowsAffected(); err != nil || n == 0 {
		return false, err
	}
	return true, q.changed(ctx, SessionTag(id))
}

// DeleteUserSessions removes every session of a user.
func (q *Q) DeleteUserSessions(ctx context.Context, userID int64) error {
	if _, err := q.exec(ctx, "DELETE FROM sessions WHERE user_id = ?", userID); err != nil {
		return fmt.Errorf("delete sessions: %w", err)
	}
	return q.changed(ctx, UserTag(userID))
}

// UserSessions lists a user's sessions, most recently seen first.
func (q *Q) UserSessions(ctx context.Context, userID int64) ([]*core.Session, error) {
	rows, err := q.query(ctx, "SELECT "+sessionCols+" FROM sessions WHERE user_id = ? ORDER BY last_seen_at DESC", userID)
	return collect(rows, err, "sessions", scanSession)
}

const tokenCols = "id, user_id, name, token_hash, created_at, expires_at, last_used_at, revoked_at"

func scanToken(row scanner) (*core.APIToken, error) {
	var t core.APIToken
	var created, expires int64
	var used, revoked sql.NullInt64
	if err := row.Scan(&t.ID, &t.UserID, &t.Name, &t.TokenHash, &created, &expires, &used, &revoked); err != nil {
		if errors.Is(err, sql.ErrNoRows) {
			return nil, core.ErrNotFound
		}
		return nil, fmt.Errorf("read api token: %w", err)
	}
	t.CreatedAt, t.ExpiresAt = fromMS(created), fromMS(expires)
	t.LastUsedAt, t.RevokedAt = fromNullMS(used), fromNullMS(revoked)
	return &t, nil
}

// CreateAPIToken inserts t and sets its ID.
func (q *Q) CreateAPIToken(ctx context.Context, t *core.APIToken) error {
	id, err := q.insert(ctx, "INSERT INTO api_tokens (user_id, name, token_hash, created_at, expires_at) VALUES (?, ?, ?, ?, ?)",
		t.UserID, t.Name, t.TokenHash, ms(t.CreatedAt), ms(t.ExpiresAt))
	if err != nil {
		return fmt.Errorf("create api token: %w", err)
	}
	t.ID = id
	return nil
}

// APITokenByHash finds a token by the hash of its secret.
func (q *Q) APITokenByHash(ctx context.Context, hash []byte) (*core.APIToken, error) {
	return scanToken(q.row(ctx, "SELECT "+tokenCols+" FROM api_tokens WHERE token_hash = ?", hash))
}

// A Use is when a session or an API token was last used and, for a
// session, from which IP ("" leaves the one recorded).
type Use struct {
	ID int64
	At time.Time
	IP string
}

// RecordUses writes the last uses of sessions and tokens gathered since the
// previous call, one statement each. A use never moves a record back: a
// later one may have been written meanwhile (by another instance).
func (q *Q) RecordUses(ctx context.Context, sessions, tokens []Use) error {
	for _, u := range sessions {
		if _, err := q.exec(ctx, "UPDATE sessions SET last_seen_at = ?, ip = COALESCE(NULLIF(?, ''), ip) WHERE id = ? AND last_seen_at < ?", ms(u.At), u.IP, u.ID, ms(u.At)); err != nil {
			return fmt.Errorf("record session use: %w", err)
		}
	}
	for _, u := range tokens {
		if _, err := q.exec(ctx, "UPDATE api_tokens SET last_used_at = ? WHERE id = ? AND (last_used_at IS NULL OR last_used_at < ?)", ms(u.At), u.ID, ms(u.At)); err != nil {
			return fmt.Errorf("record api token use: %w", err)
		}
	}
	return nil
}

// WorkspaceAPITokens lists the tokens created by users of a workspace.
func (q *Q) WorkspaceAPITokens(ctx context.Context, workspaceID int64) ([]*core.APIToken, error) {
	rows, err := q.query(ctx, "SELECT "+tokenColsPrefixed+` FROM api_tokens t JOIN users u ON u.id = t.user_id
		WHERE u.workspace_id = ? ORDER BY t.created_at DESC, t.id DESC`, workspaceID)
	return collect(rows, err, "api tokens", scanToken)
}

const tokenColsPrefixed = "t.id, t.user_id, t.name, t.token_hash, t.created_at, t.expires_at, t.last_used_at, t.revoked_at"

// RevokeAPIToken revokes a token of the workspace and returns it; ENOTFOUND
// when the token is not there, is already revoked or belongs to another
// workspace.
func (q *Q) RevokeAPIToken(ctx context.Context, workspaceID, id int64) (*core.APIToken, error) {
	t, err := scanToken(q.row(ctx, `UPDATE api_tokens SET revoked_at = ? WHERE id = ? AND revoked_at IS NULL
		AND user_id IN (SELECT id FROM users WHERE workspace_id = ?) RETURNING `+tokenCols, ms(q.now()), id, workspaceID))
	if err != nil {
		return nil, err
	}
	return t, q.changed(ctx, TokenTag(id))
}

// RevokeUserAPITokens revokes every active token acting as userID and
// returns them: a deactivated user's tokens must not come back when the
// user is reactivated.
func (q *Q) RevokeUserAPITokens(ctx context.Context, userID int64) ([]*core.APIToken, error) {
	rows, err := q.query(ctx, "UPDATE api_tokens SET revoked_at = ? WHERE user_id = ? AND revoked_at IS NULL RETURNING "+tokenCols,
		ms(q.now()), userID)
	revoked, err := collect(rows, err, "revoked api tokens", scanToken)
	if err != nil {
		return nil, err
	}
	return revoked, q.changed(ctx, UserTag(userID))
}

// prefixScanner scans pre's columns ahead of those its caller asks for: a
// joined row read by two scan functions in one query.
type prefixScanner struct {
	row scanner
	pre []any
}

func (p prefixScanner) Scan(dest ...any) error { return p.row.Scan(append(p.pre, dest...)...) }

// APITokenWithUser finds a token by the hash of its secret, with the user
// it acts as, in one query (every API request starts here).
func (q *Q) APITokenWithUser(ctx context.Context, hash []byte) (*core.APIToken, *core.User, error) {
	var t core.APIToken
	var created, expires int64
	var used, revoked sql.NullInt64
	row := q.row(ctx, "SELECT "+tokenColsPrefixed+", "+prefixed("u.", userCols)+" FROM api_tokens t JOIN users u ON u.id = t.user_id WHERE t.token_hash = ?", hash)
	u, err := scanUser(prefixScanner{row, []any{&t.ID, &t.UserID, &t.Name, &t.TokenHash, &created, &expires, &used, &revoked}})
	if err != nil {
		return nil, nil, err
	}
	t.CreatedAt, t.ExpiresAt = fromMS(created), fromMS(expires)
	t.LastUsedAt, t.RevokedAt = fromNullMS(used), fromNullMS(revoked)
	return &t, u, nil
}

// SessionWithUser finds a session by the hash of its token, with its
// user, in one query.
func (q *Q) SessionWithUser(ctx context.Context, hash []byte) (*core.Session, *core.User, error) {
	var s core.Session
	var kind string
	var created, seen, expires int64
	row := q.row(ctx, "SELECT "+prefixed("s.", sessionCols)+", "+prefixed("u.", userCols)+" FROM sessions s JOIN users u ON u.id = s.user_id WHERE s.token_hash = ?", hash)
	u, err := scanUser(prefixScanner{row, []any{&s.ID, &s.UserID, &kind, &s.TokenHash, &created, &seen, &expires, &s.IP, &s.Device}})
	if err != nil {
		return nil, nil, err
	}
	s.Kind = core.SessionKind(kind)
	s.CreatedAt, s.LastSeenAt, s.ExpiresAt = fromMS(created), fromMS(seen), fromMS(expires)
	return &s, u, nil
}

// prefixed qualifies each of a column list's names with p.
func prefixed(p, cols string) string {
	parts := strings.Split(cols, ",")
	for i, c := range parts {
		parts[i] = p + strings.TrimSpace(c)
	}
	return strings.Join(parts, ", ")
}
