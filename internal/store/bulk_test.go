package store_test

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"fmt"
	"net/url"
	"path/filepath"
	"testing"

	"roster/internal/core"
	"roster/internal/store"
	"roster/internal/store/storetest"
	"roster/internal/testenv"
)

// TestTrustRows: a superuser's seed transaction skips PostgreSQL's
// foreign-key triggers (session_replication_role = replica) for that
// transaction only; another role's keeps them and is not refused; SQLite
// is left as it is.
func TestTrustRows(t *testing.T) {
	ctx := context.Background()
	role := func(t *testing.T, db *store.DB) (inside, after string) {
		t.Helper()
		if err := db.InTx(ctx, func(q *store.Q) error {
			if err := q.TrustRows(ctx); err != nil {
				return err
			}
			return q.Tx.QueryRowContext(ctx, "SHOW session_replication_role").Scan(&inside)
		}); err != nil {
			t.Fatal(err)
		}
		// A pool may hand the next transaction the same connection.
		for range 3 {
			if err := db.InTx(ctx, func(q *store.Q) error {
				return q.Tx.QueryRowContext(ctx, "SHOW session_replication_role").Scan(&after)
			}); err != nil {
				t.Fatal(err)
			}
			if after != "origin" {
				break
			}
		}
		return inside, after
	}
	t.Run("sqlite", func(t *testing.T) {
		db := storetest.Open(t, store.SQLite)
		if err := db.InTx(ctx, func(q *store.Q) error { return q.TrustRows(ctx) }); err != nil {
			t.Fatal(err)
		}
		var on int
		if err := db.W.QueryRowContext(ctx, "PRAGMA foreign_keys").Scan(&on); err != nil || on != 1 {
			t.Errorf("foreign keys %d (%v), want on", on, err)
		}
	})
	t.Run("postgres superuser", func(t *testing.T) {
		db := storetest.Open(t, store.Postgres)
		if inside, after := role(t, db); inside != "replica" || after != "origin" {
			t.Errorf("session_replication_role %q in the transaction, %q after it; want replica, origin", inside, after)
		}
		// Replica mode skips every ordinary trigger: the schema must have
		// none but the foreign keys' own, or the seed would skip them too.
		var triggers []string
		rows, err := db.R.QueryContext(ctx, `SELECT c.relname || '.' || t.tgname FROM pg_trigger t JOIN pg_class c ON c.oid = t.tgrelid
			JOIN pg_namespace n ON n.oid = c.relnamespace WHERE NOT t.tgisinternal AND n.nspname NOT IN ('pg_catalog', 'information_schema')`)
		if err != nil {
			t.Fatal(err)
		}
		defer rows.Close()
		for rows.Next() {
			var name string
			if err := rows.Scan(&name); err != nil {
				t.Fatal(err)
			}
			triggers = append(triggers, name)
		}
		if len(triggers) > 0 {
			t.Errorf("triggers %v would not fire in roster seed's transactions (store.Q.TrustRows)", triggers)
		}
	})
	t.Run("postgres other role", func(t *testing.T) {
		base := testenv.FreshPostgres(t)
		admin, err := sql.Open("pgx", base)
		if err != nil {
			t.Fatal(err)
		}
		defer admin.Close()
		var b [6]byte
		_, _ = rand.Read(b[:])
		name := "roster_plain_" + hex.EncodeToString(b[:])
		if _, err := admin.ExecContext(ctx, fmt.Sprintf("CREATE ROLE %s LOGIN", name)); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() {
			a, err := sql.Open("pgx", base)
			if err != nil {
				return
			}
			defer a.Close()
			_, _ = a.ExecContext(ctx, "DROP OWNED BY "+name)
			_, _ = a.ExecContext(ctx, "DROP ROLE IF EXISTS "+name)
		})
		u, _ := url.Parse(base)
		u.User = url.User(name)
		db, err := store.Open(ctx, u.String(), filepath.Join(t.TempDir(), "data"))
		if err != nil {
			t.Fatal(err)
		}
		defer db.Close()
		if inside, _ := role(t, db); inside != "origin" {
			t.Errorf("session_replication_role %q for a role that is not a superuser", inside)
		}
	})
}

// TestSeedNotificationsStayInWorkspace: SeedNotifications gives its
// workspace's people in the id range their notifications, and nobody of
// another workspace whose ids fall in the same range (people made in
// turn, as workspaces seeded side by side make them on PostgreSQL).
func TestSeedNotificationsStayInWorkspace(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		ws := [2]*core.Workspace{{Name: "One", Timezone: "UTC", Language: "en"}, {Name: "Two", Timezone: "UTC", Language: "en"}}
		var first, last int64
		var ev *core.NotifyEvent
		err := db.InTx(ctx, func(q *store.Q) error {
			for _, w := range ws {
				if err := q.CreateWorkspace(ctx, w); err != nil {
					return err
				}
			}
			for i := range 10 {
				u := &core.User{WorkspaceID: ws[i%2].ID, Name: fmt.Sprint("P", i), Email: fmt.Sprintf("p%d@example.com", i),
					PasswordHash: "h", Role: core.RoleUser, State: core.StateActive, Language: "en", Timezone: "UTC"}
				if err := q.CreateUser(ctx, u); err != nil {
					return err
				}
				if first == 0 {
					first = u.ID
				}
				last = u.ID
			}
			ev = &core.NotifyEvent{WorkspaceID: ws[0].ID, Type: "task.assigned", Recipients: []int64{first}, OccurredAt: db.Now(), DedupeKey: "seed"}
			if _, err := q.InsertNotifyEvent(ctx, ev); err != nil {
				return err
			}
			made, err := q.SeedNotifications(ctx, ws[0].ID, first, last, []store.SeedText{{EventID: ev.ID, Language: "en",
				Type: "task.assigned", Category: "tasks", Title: "Call Bea", CreatedAt: db.Now().UnixMilli()}})
			if err == nil && made != 5 {
				err = fmt.Errorf("%d notifications made, want 5", made)
			}
			return err
		})
		if err != nil {
			t.Fatal(err)
		}
		var inOne, elsewhere int
		if err := db.R.QueryRowContext(ctx, db.Rebind(`SELECT
			COUNT(CASE WHEN u.workspace_id = ? AND n.workspace_id = u.workspace_id THEN 1 END),
			COUNT(CASE WHEN u.workspace_id <> ? OR n.workspace_id <> u.workspace_id THEN 1 END)
			FROM notifications n JOIN users u ON u.id = n.user_id`), ws[0].ID, ws[0].ID).Scan(&inOne, &elsewhere); err != nil {
			t.Fatal(err)
		}
		if inOne != 5 || elsewhere != 0 {
			t.Fatalf("%d notifications in the workspace, %d outside it; want 5 and 0", inOne, elsewhere)
		}
	})
}
