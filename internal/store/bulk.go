package store

import (
	"context"
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
