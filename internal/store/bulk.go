package store

import (
	"context"
	"database/sql"
	"fmt"
	"strings"
)

// maxBindVars keeps a multi-row statement under both engines' limits on
// bound values (SQLite 32,766, PostgreSQL 65,535).
const maxBindVars = 30_000

// BulkInsert inserts rows into table's cols with multi-row INSERTs, as
// many rows per statement as the engines allow. It is for loading data in
// bulk (roster seed); the caller's transaction makes it all or nothing.
func (q *Q) BulkInsert(ctx context.Context, table string, cols []string, rows [][]any) error {
	if len(rows) == 0 {
		return nil
	}
	perStmt := max(1, maxBindVars/len(cols))
	one := "(" + strings.TrimSuffix(strings.Repeat("?, ", len(cols)), ", ") + ")"
	for start := 0; start < len(rows); start += perStmt {
		chunk := rows[start:min(start+perStmt, len(rows))]
		var b strings.Builder
		b.WriteString("INSERT INTO " + table + " (" + strings.Join(cols, ", ") + ") VALUES ")
		args := make([]any, 0, len(chunk)*len(cols))
		for i, r := range chunk {
			if len(r) != len(cols) {
				return fmt.Errorf("bulk insert into %s: row has %d values for %d columns", table, len(r), len(cols))
			}
			if i > 0 {
				b.WriteString(", ")
			}
			b.WriteString(one)
			args = append(args, r...)
		}
		if _, err := q.exec(ctx, b.String(), args...); err != nil {
			return fmt.Errorf("bulk insert into %s: %w", table, err)
		}
	}
	return nil
}

// InsertSeedEvent stores an event for seeded notifications (recipients:
// everyone) and returns its id.
func (q *Q) InsertSeedEvent(ctx context.Context, workspaceID int64, typ, data string, at int64) (int64, error) {
	var id int64
	err := q.row(ctx, `INSERT INTO notify_events (workspace_id, type, data, recipients, occurred_at, created_at)
		VALUES (?, ?, ?, '"all"', ?, ?) RETURNING id`, workspaceID, typ, data, at, at).Scan(&id)
	if err != nil {
		return 0, fmt.Errorf("seed event: %w", err)
	}
	return id, nil
}

// UserIDsByEmail returns the ids of the workspace's users with emails.
func (q *Q) UserIDsByEmail(ctx context.Context, workspaceID int64, emails []string) (map[string]int64, error) {
	out := make(map[string]int64, len(emails))
	for chunk := range chunks(emails, 512) {
		// +workspace_id: a filter, so SQLite seeks each email in its unique
		// index instead of reading the whole workspace.
		rows, err := q.queryRows(ctx, "SELECT id, email FROM users WHERE +workspace_id = ? AND email IN ("+marks(len(chunk))+")",
			append([]any{workspaceID}, anys(chunk)...)...)
		if err != nil {
			return nil, fmt.Errorf("users by email: %w", err)
		}
		for rows.Next() {
			var id int64
			var email string
			if err := rows.Scan(&id, &email); err != nil {
				rows.Close()
				return nil, fmt.Errorf("users by email: %w", err)
			}
			out[email] = id
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return nil, fmt.Errorf("users by email: %w", err)
		}
	}
	return out, nil
}

// SeedText is what a seeded notification says in one language, for
// SeedNotifications.
type SeedText struct {
	EventID          int64
	Language         string
	Type, Category   string
	Title, Body, URL string
	CreatedAt        int64
	ReadAt           sql.NullInt64 // NULL: unread
}

// SeedNotifications gives every person of the workspace with an id in
// [fromID, toID] a notification of each event in texts, in the person's
// language, ordered by person and then as texts lists the events. The
// database makes the rows in INSERT … SELECT, so they cross neither the
// driver nor the connection one by one (roster seed). It returns how many
// it made: a person whose language texts lacks gets none.
func (q *Q) SeedNotifications(ctx context.Context, workspaceID, fromID, toID int64, texts []SeedText) (int64, error) {
	const cols = 10
	var made int64
	// Later slices of texts come after earlier ones for every person, so
	// each person's notifications keep the order of texts.
	for start := 0; start < len(texts); start += maxBindVars / cols {
		chunk := texts[start:min(start+maxBindVars/cols, len(texts))]
		var b strings.Builder
		args := make([]any, 0, len(chunk)*cols+3)
		for i, t := range chunk {
			if i > 0 {
				b.WriteString(", ")
			}
			// Typed placeholders: PostgreSQL reads VALUES' parameters as text.
			b.WriteString("(CAST(? AS BIGINT), CAST(? AS BIGINT), ?, ?, ?, ?, ?, ?, CAST(? AS BIGINT), CAST(? AS BIGINT))")
			args = append(args, int64(start+i), t.EventID, t.Language, t.Type, t.Category, t.Title, t.Body, t.URL, t.CreatedAt, t.ReadAt)
		}
		args = append(args, workspaceID, fromID, toID)
		res, err := q.exec(ctx, `WITH t (pos, event_id, language, type, category, title, body, url, created_at, read_at) AS (VALUES `+b.String()+`)
			INSERT INTO notifications (workspace_id, user_id, event_id, type, category, title, body, url, popup, created_at, read_at)
			SELECT u.workspace_id, u.id, t.event_id, t.type, t.category, t.title, t.body, t.url, TRUE, t.created_at, t.read_at
			FROM users u JOIN t ON t.language = u.language
			WHERE u.workspace_id = ? AND u.id BETWEEN ? AND ?
			ORDER BY u.id, t.pos`, args...)
		if err != nil {
			return made, fmt.Errorf("seed notifications: %w", err)
		}
		n, err := res.RowsAffected()
		if err != nil {
			return made, fmt.Errorf("seed notifications: %w", err)
		}
		made += n
	}
	return made, nil
}

// TrustRows tells PostgreSQL to skip the foreign-key checks of the rest
// of the transaction q, for rows that are consistent as they are made
// (roster seed: ids just read back). Only a superuser may; for another
// role it does nothing, and the checks run. SQLite's checks are cheap
// index lookups and stay. Replica mode skips every ordinary trigger, not
// only the foreign keys' (TestTrustRows holds the schema to having none).
func (q *Q) TrustRows(ctx context.Context) error {
	if q.db.Engine != Postgres {
		return nil
	}
	// One statement: the setting is made only in a superuser's row, so a
	// role that may not make it never tries.
	if _, err := q.exec(ctx, `SELECT set_config('session_replication_role', 'replica', true)
		FROM pg_roles WHERE rolname = current_user AND rolsuper`); err != nil {
		return fmt.Errorf("trust rows: %w", err)
	}
	return nil
}

// AfterBulkLoad readies PostgreSQL after roster seed: VACUUM (ANALYZE)
// marks the new rows visible to all and gathers the planner's statistics
// now. Left to autovacuum (started by the inserts), it reads the ten
// million rows in the first minutes of whatever runs next, such as a
// benchmark. SQLite has nothing to catch up on.
func (db *DB) AfterBulkLoad(ctx context.Context) error {
	if db.Engine != Postgres {
		return nil
	}
	if _, err := db.W.ExecContext(ctx, "VACUUM (ANALYZE)"); err != nil {
		return fmt.Errorf("vacuum after bulk load: %w", err)
	}
	return nil
}
