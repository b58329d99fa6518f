package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"

	"roster/internal/core"
)

const inviteCols = "id, workspace_id, email, role, rights, invited_by, token_hash, created_at, expires_at, accepted_at, revoked_at"

func scanInvite(row scanner) (*core.Invite, error) {
	var in core.Invite
	var role, rights string
	var created, expires int64
	var accepted, revoked sql.NullInt64
	if err := row.Scan(&in.ID, &in.WorkspaceID, &in.Email, &role, &rights, &in.InvitedBy, &in.TokenHash, &created, &expires, &accepted, &revoked); err != nil {
		if errors.Is(err, sql.ErrNoRows) {
			return nil, core.ErrNotFound
		}
		return nil, fmt.Errorf("read invite: %w", err)
	}
	in.Role, in.Rights = core.Role(role), splitRights(rights)
	in.CreatedAt, in.ExpiresAt, in.AcceptedAt, in.RevokedAt = fromMS(created), fromMS(expires), fromNullMS(accepted), fromNullMS(revoked)
	return &in, nil
}

// inviteUsable is the condition under which an invite can still be
// accepted: not used, not withdrawn, not expired, and its inviter is still
// an active admin of the workspace. The inviter part also covers invites
// whose inviter lost the rights before withdrawal on demotion existed. It
// takes the current time as its one argument.
const inviteUsable = `accepted_at IS NULL AND revoked_at IS NULL AND expires_at > ?
	AND EXISTS (SELECT 1 FROM users inviter WHERE inviter.id = invites.invited_by AND inviter.workspace_id = invites.workspace_id
		AND inviter.role = 'admin' AND inviter.state = 'active')`

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

// InviteByTokenHash finds an invite by the hash of its token, whatever its
// state.
func (q *Q) InviteByTokenHash(ctx context.Context, hash []byte) (*core.Invite, error) {
	return scanInvite(q.row(ctx, "SELECT "+inviteCols+" FROM invites WHERE token_hash = ?", hash))
}

// MarkInviteAccepted closes an invite that is still usable; it reports
// false otherwise. The condition is part of the UPDATE, so an acceptance
// racing with a second one, a withdrawal or the inviter's deactivation
// (which withdraws the invite) cannot both succeed.
func (q *Q) MarkInviteAccepted(ctx context.Context, id int64) (bool, error) {
	now := ms(q.now())
	res, err := q.exec(ctx, "UPDATE invites SET accepted_at = ? WHERE id = ? AND "+inviteUsable, now, id, now)
	if err != nil {
		return false, fmt.Errorf("accept invite: %w", err)
	}
	n, _ := res.RowsAffected()
	return n == 1, nil
}

// OpenInvites lists a workspace's invites that can still be accepted.
func (q *Q) OpenInvites(ctx context.Context, workspaceID int64) ([]*core.Invite, error) {
	rows, err := q.query(ctx, "SELECT "+inviteCols+" FROM invites WHERE workspace_id = ? AND "+inviteUsable+
		" ORDER BY created_at DESC, id DESC", workspaceID, ms(q.now()))
	return collect(rows, err, "invites", scanInvite)
}

// RevokeInvite withdraws an open invite of the workspace and returns it;
// ENOTFOUND when there is no such invite in that workspace or it was
// already used, withdrawn or expired.
func (q *Q) RevokeInvite(ctx context.Context, workspaceID, id int64) (*core.Invite, error) {
	now := ms(q.now())
	return scanInvite(q.row(ctx, "UPDATE invites SET revoked_at = ? WHERE id = ? AND workspace_id = ? AND accepted_at IS NULL AND revoked_at IS NULL AND expires_at > ? RETURNING "+inviteCols,
		now, id, workspaceID, now))
}

// RevokeInvitesBy withdraws every open invite sent by inviterID and returns
// them, for when the inviter stops being an active admin.
func (q *Q) RevokeInvitesBy(ctx context.Context, inviterID int64) ([]*core.Invite, error) {
	now := ms(q.now())
	rows, err := q.query(ctx, "UPDATE invites SET revoked_at = ? WHERE invited_by = ? AND accepted_at IS NULL AND revoked_at IS NULL AND expires_at > ? RETURNING "+inviteCols,
		now, inviterID, now)
	return collect(rows, err, "revoked invites", scanInvite)
}
