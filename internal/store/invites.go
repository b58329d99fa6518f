package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"

	"roster/internal/core"
)

const inviteCols = "id, workspace_id, email, role, rights, invited_by, token_hash, created_at, expires_at, accepted_at"

func scanInvite(row scanner) (*core.Invite, error) {
	var in core.Invite
	var role, rights string
	var created, expires int64
	var accepted sql.NullInt64
	if err := row.Scan(&in.ID, &in.WorkspaceID, &in.Email, &role, &rights, &in.InvitedBy, &in.TokenHash, &created, &expires, &accepted); err != nil {
		if errors.Is(err, sql.ErrNoRows) {
			return nil, core.ErrNotFound
		}
		return nil, fmt.Errorf("read invite: %w", err)
	}
	in.Role, in.Rights = core.Role(role), splitRights(rights)
	in.CreatedAt, in.ExpiresAt, in.AcceptedAt = fromMS(created), fromMS(expires), fromNullMS(accepted)
	return &in, nil
}

// CreateInvite inserts in and sets its ID.
func (q *Q) CreateInvite(ctx context.Context, in *core.Invite) error {
	id, err := q.insert(ctx, "INSERT INTO invites (workspace_id, email, role, rights, invited_by, token_hash, created_at, expires_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
		in.WorkspaceID, in.Email, string(in.Role), joinRights(in.Rights), in.InvitedBy, in.TokenHash, ms(in.CreatedAt), ms(in.ExpiresAt))
	if err != nil {
		return fmt.Errorf("create invite: %w", err)
	}
	in.ID = id
	return nil
}

// InviteByTokenHash finds an invite by the hash of its token.
func (q *Q) InviteByTokenHash(ctx context.Context, hash []byte) (*core.Invite, error) {
	return scanInvite(q.row(ctx, "SELECT "+inviteCols+" FROM invites WHERE token_hash = ?", hash))
}

// MarkInviteAccepted closes an open invite; it reports false when the invite
// was already used, so two racing acceptances cannot both succeed.
func (q *Q) MarkInviteAccepted(ctx context.Context, id int64) (bool, error) {
	res, err := q.exec(ctx, "UPDATE invites SET accepted_at = ? WHERE id = ? AND accepted_at IS NULL", ms(q.now()), id)
	if err != nil {
		return false, fmt.Errorf("accept invite: %w", err)
	}
	n, _ := res.RowsAffected()
	return n == 1, nil
}

// OpenInvites lists a workspace's invites that are neither used nor expired.
func (q *Q) OpenInvites(ctx context.Context, workspaceID int64) ([]*core.Invite, error) {
	rows, err := q.query(ctx, "SELECT "+inviteCols+` FROM invites WHERE workspace_id = ? AND accepted_at IS NULL AND expires_at > ?
		ORDER BY created_at DESC`, workspaceID, ms(q.now()))
	return collect(rows, err, "invites", scanInvite)
}
