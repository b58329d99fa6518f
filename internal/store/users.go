package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strconv"
	"strings"

	"roster/internal/core"
)

var errEmailTaken = &core.Error{Code: core.EINVALID, Key: "errors.invalid",
	Fields: []core.FieldError{{Field: "email", Key: "errors.field.email_taken"}}}

// ErrEmailTaken is returned when an email already belongs to a user.
var ErrEmailTaken error = errEmailTaken

func joinRights(r []core.Right) string {
	s := make([]string, len(r))
	for i, x := range r {
		s[i] = string(x)
	}
	return strings.Join(s, ",")
}

func splitRights(s string) []core.Right {
	if s == "" {
		return nil
	}
	parts := strings.Split(s, ",")
	out := make([]core.Right, len(parts))
	for i, p := range parts {
		out[i] = core.Right(p)
	}
	return out
}

// CountWorkspaces returns how many workspaces exist (0 means setup is due).
func (q *Q) CountWorkspaces(ctx context.Context) (int, error) {
	var n int
	if err := q.row(ctx, "SELECT COUNT(*) FROM workspaces").Scan(&n); err != nil {
		return 0, fmt.Errorf("count workspaces: %w", err)
	}
	return n, nil
}

// CreateWorkspace inserts w and sets its ID and CreatedAt.
func (q *Q) CreateWorkspace(ctx context.Context, w *core.Workspace) error {
	w.CreatedAt = q.now()
	id, err := q.insert(ctx, "INSERT INTO workspaces (name, timezone, language, country, created_at) VALUES (?, ?, ?, ?, ?)",
		w.Name, w.Timezone, w.Language, w.Country, ms(w.CreatedAt))
	if err != nil {
		if isUniqueViolation(err) {
			return &core.Error{Code: core.ECONFLICT, Key: "errors.conflict", Err: err}
		}
		return fmt.Errorf("create workspace: %w", err)
	}
	w.ID = id
	return nil
}

const workspaceCols = "id, name, timezone, language, country, require_two_factor, ip_allowlist, created_at"

func scanWorkspace(row scanner) (*core.Workspace, error) {
	var w core.Workspace
	var created int64
	if err := row.Scan(&w.ID, &w.Name, &w.Timezone, &w.Language, &w.Country, &w.RequireTwoFactor, &w.IPAllowlist, &created); err != nil {
		if errors.Is(err, sql.ErrNoRows) {
			return nil, core.ErrNotFound
		}
		return nil, fmt.Errorf("read workspace: %w", err)
	}
	w.CreatedAt = fromMS(created)
	return &w, nil
}

// Workspace returns the workspace with id.
func (q *Q) Workspace(ctx context.Context, id int64) (*core.Workspace, error) {
	return scanWorkspace(q.row(ctx, "SELECT "+workspaceCols+" FROM workspaces WHERE id = ?", id))
}

// WorkspaceByName returns the workspace with that exact name.
func (q *Q) WorkspaceByName(ctx context.Context, name string) (*core.Workspace, error) {
	return scanWorkspace(q.row(ctx, "SELECT "+workspaceCols+" FROM workspaces WHERE name = ?", name))
}

// FirstWorkspace returns the oldest workspace, the default for pages shown
// before sign-in.
func (q *Q) FirstWorkspace(ctx context.Context) (*core.Workspace, error) {
	return scanWorkspace(q.row(ctx, "SELECT "+workspaceCols+" FROM workspaces ORDER BY id LIMIT 1"))
}

const userCols = `id, workspace_id, name, email, password_hash, role, rights, state, language, timezone,
	phone, note, two_factor_enabled, photo_version, created_at, updated_at, last_sign_in_at`

func scanUser(row scanner) (*core.User, error) {
	var u core.User
	var rights, role, state string
	var created, updated int64
	var lastSignIn sql.NullInt64
	err := row.Scan(&u.ID, &u.WorkspaceID, &u.Name, &u.Email, &u.PasswordHash, &role, &rights, &state,
		&u.Language, &u.Timezone, &u.Phone, &u.Note, &u.TwoFactorEnabled, &u.PhotoVersion, &created, &updated, &lastSignIn)
	if err != nil {
		if errors.Is(err, sql.ErrNoRows) {
			return nil, core.ErrNotFound
		}
		return nil, fmt.Errorf("read user: %w", err)
	}
	u.Role, u.State, u.Rights = core.Role(role), core.State(state), splitRights(rights)
	u.CreatedAt, u.UpdatedAt, u.LastSignInAt = fromMS(created), fromMS(updated), fromNullMS(lastSignIn)
	return &u, nil
}

// CreateUser inserts u and sets its ID and timestamps. A taken email gives
// ErrEmailTaken.
func (q *Q) CreateUser(ctx context.Context, u *core.User) error {
	now := q.now()
	u.CreatedAt, u.UpdatedAt = now, now
	id, err := q.insert(ctx, `INSERT INTO users (workspace_id, name, email, password_hash, role, rights, state,
		language, timezone, phone, note, two_factor_enabled, created_at, updated_at)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
		u.WorkspaceID, u.Name, u.Email, u.PasswordHash, string(u.Role), joinRights(u.Rights), string(u.State),
		u.Language, u.Timezone, u.Phone, u.Note, u.TwoFactorEnabled, ms(now), ms(now))
	if err != nil {
		if isUniqueViolation(err) {
			return ErrEmailTaken
		}
		return fmt.Errorf("create user: %w", err)
	}
	u.ID = id
	return nil
}

// User returns the user with id, in any workspace.
func (q *Q) User(ctx context.Context, id int64) (*core.User, error) {
	return scanUser(q.row(ctx, "SELECT "+userCols+" FROM users WHERE id = ?", id))
}

// UserToChange is User read to be changed and written back (UpdateUser):
// in a transaction it locks the row until the end (see forUpdate).
func (q *Q) UserToChange(ctx context.Context, id int64) (*core.User, error) {
	return scanUser(q.row(ctx, "SELECT "+userCols+" FROM users WHERE id = ?"+q.forUpdate(), id))
}

// UserInWorkspace returns the user with id only if it belongs to workspaceID;
// another workspace's user is ENOTFOUND, never revealed.
func (q *Q) UserInWorkspace(ctx context.Context, workspaceID, id int64) (*core.User, error) {
	return scanUser(q.row(ctx, "SELECT "+userCols+" FROM users WHERE id = ? AND workspace_id = ?", id, workspaceID))
}

// UserInWorkspaceToChange is UserInWorkspace read to be changed and written
// back: in a transaction it locks the row until the end (see forUpdate).
func (q *Q) UserInWorkspaceToChange(ctx context.Context, workspaceID, id int64) (*core.User, error) {
	return scanUser(q.row(ctx, "SELECT "+userCols+" FROM users WHERE id = ? AND workspace_id = ?"+q.forUpdate(), id, workspaceID))
}

// PhotoVersions returns the current photo version of each of ids that
// exists (0: no photo).
func (q *Q) PhotoVersions(ctx context.Context, ids []int64) (map[int64]int64, error) {
	out := make(map[int64]int64, len(ids))
	for chunk := range chunks(ids, 512) {
		rows, err := q.queryRows(ctx, "SELECT id, photo_version FROM users WHERE id IN ("+marks(len(chunk))+")", anys(chunk)...)
		if err != nil {
			return nil, fmt.Errorf("photo versions: %w", err)
		}
		for rows.Next() {
			var id, version int64
			if err := rows.Scan(&id, &version); err != nil {
				rows.Close()
				return nil, fmt.Errorf("photo versions: %w", err)
			}
			out[id] = version
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return nil, fmt.Errorf("photo versions: %w", err)
		}
	}
	return out, nil
}

// forUpdate locks a row read in a transaction on PostgreSQL. A user is
// read to be changed and written back whole (UpdateUser): under READ
// COMMITTED two such transactions (a name save and a photo upload of one
// person) would both read the old row and the later write would undo the
// earlier one, an acknowledged save lost. Locking at the read makes the
// second wait and read the first's row. NO KEY UPDATE, not UPDATE: the
// key is never changed, and FOR UPDATE would also wait on (and deadlock
// with) the KEY SHARE locks that inserts referencing the user take, as a
// fan-out of notifications does. Only the *ToChange reads lock, so reads
// that change nothing never queue behind a save. SQLite's writer
// transactions are serial already (BEGIN IMMEDIATE on the one writer).
func (q *Q) forUpdate() string {
	if q.Tx != nil && q.db.Engine == Postgres {
		return " FOR NO KEY UPDATE"
	}
	return ""
}

// UserByEmail returns the user with the normalised email.
func (q *Q) UserByEmail(ctx context.Context, email string) (*core.User, error) {
	return scanUser(q.row(ctx, "SELECT "+userCols+" FROM users WHERE email = ?", email))
}

// UserFilter selects a page of a workspace's users, ordered by name then id.
type UserFilter struct {
	WorkspaceID int64
	TwoFactor   *bool // only users with two-step verification on (true) or off (false)
	Offset      int
	Limit       int
}

// Users returns a page of users and the total count.
func (q *Q) Users(ctx context.Context, f UserFilter) ([]*core.User, int, error) {
	where, args := "workspace_id = ? AND state <> 'removed'", []any{f.WorkspaceID}
	if f.TwoFactor != nil {
		where += " AND two_factor_enabled = ?"
		args = append(args, *f.TwoFactor)
	}
	var total int
	if err := q.row(ctx, "SELECT COUNT(*) FROM users WHERE "+where, args...).Scan(&total); err != nil {
		return nil, 0, fmt.Errorf("count users: %w", err)
	}
	if f.Limit <= 0 {
		f.Limit = 50
	}
	rows, err := q.query(ctx, "SELECT "+userCols+" FROM users WHERE "+where+" ORDER BY name, id LIMIT ? OFFSET ?",
		append(args, f.Limit, f.Offset)...)
	users, err := collect(rows, err, "users", scanUser)
	return users, total, err
}

// LockWorkspace serialises changes to who administers a workspace: call it
// in a transaction before counting admins and changing one, so two admins
// demoting each other at once cannot both pass the count. PostgreSQL takes
// a row lock held until the transaction ends. SQLite needs nothing: every
// transaction begins IMMEDIATE on the one writer connection, so it already
// holds the database's write lock.
func (q *Q) LockWorkspace(ctx context.Context, workspaceID int64) error {
	if q.db.Engine != Postgres {
		return nil
	}
	var id int64
	if err := q.row(ctx, "SELECT id FROM workspaces WHERE id = ? FOR UPDATE", workspaceID).Scan(&id); err != nil {
		if errors.Is(err, sql.ErrNoRows) {
			return core.ErrNotFound
		}
		return fmt.Errorf("lock workspace: %w", err)
	}
	return nil
}

// CountActiveAdmins counts the active admins of a workspace.
func (q *Q) CountActiveAdmins(ctx context.Context, workspaceID int64) (int, error) {
	var n int
	err := q.row(ctx, "SELECT COUNT(*) FROM users WHERE workspace_id = ? AND role = 'admin' AND state = 'active'", workspaceID).Scan(&n)
	if err != nil {
		return 0, fmt.Errorf("count admins: %w", err)
	}
	return n, nil
}

// UpdateUser writes every mutable field of u.
func (q *Q) UpdateUser(ctx context.Context, u *core.User) error {
	u.UpdatedAt = q.now()
	res, err := q.exec(ctx, `UPDATE users SET name = ?, email = ?, password_hash = ?, role = ?, rights = ?, state = ?,
		language = ?, timezone = ?, phone = ?, note = ?, two_factor_enabled = ?, photo_version = ?, updated_at = ? WHERE id = ?`,
		u.Name, u.Email, u.PasswordHash, string(u.Role), joinRights(u.Rights), string(u.State),
		u.Language, u.Timezone, u.Phone, u.Note, u.TwoFactorEnabled, u.PhotoVersion, ms(u.UpdatedAt), u.ID)
	if err != nil {
		if isUniqueViolation(err) {
			return ErrEmailTaken
		}
		return fmt.Errorf("update user: %w", err)
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return core.ErrNotFound
	}
	return q.changed(ctx, UserTag(u.ID))
}

// The kinds of cache tag, each the part of its tags before ':' (for
// NewCache).
const (
	WorkspaceKind   = "w"
	UserKind        = "u"
	SessionKind     = "s"
	TokenKind       = "t"
	EmailChangeKind = "e"
	InboxKind       = "n"
)

func tag(kind string, id int64) string { return kind + ":" + strconv.FormatInt(id, 10) }

// WorkspaceTag is the cache tag of a workspace's security policy.
func WorkspaceTag(id int64) string { return tag(WorkspaceKind, id) }

// UserTag, SessionTag and TokenTag are the cache tags of a person (their
// row, all their sessions and tokens), one session, one token.
func UserTag(id int64) string    { return tag(UserKind, id) }
func SessionTag(id int64) string { return tag(SessionKind, id) }
func TokenTag(id int64) string   { return tag(TokenKind, id) }

// TouchSignIn records a successful sign-in time.
func (q *Q) TouchSignIn(ctx context.Context, userID int64) error {
	if _, err := q.exec(ctx, "UPDATE users SET last_sign_in_at = ? WHERE id = ?", ms(q.now()), userID); err != nil {
		return fmt.Errorf("record sign-in: %w", err)
	}
	return nil
}

// SetWorkspaceSecurity writes a workspace's mandatory two-step verification
// and IP allowlist.
func (q *Q) SetWorkspaceSecurity(ctx context.Context, w *core.Workspace) error {
	_, err := q.exec(ctx, "UPDATE workspaces SET require_two_factor = ?, ip_allowlist = ? WHERE id = ?", w.RequireTwoFactor, w.IPAllowlist, w.ID)
	if err != nil {
		return fmt.Errorf("save workspace security: %w", err)
	}
	return q.changed(ctx, WorkspaceTag(w.ID))
}
