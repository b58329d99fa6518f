package seed_test

import (
	"bufio"
	"bytes"
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"testing"

	"roster/internal/core"
	"roster/internal/seed"
	"roster/internal/services"
	"roster/internal/services/servicetest"
	"roster/internal/store"
	"roster/internal/store/storetest"
)

type noMail struct{}

func (noMail) EnqueueTx(context.Context, *sql.Tx, int64, string, string, string, map[string]any) error {
	return nil
}

// TestSeed: the people, their credentials and notifications are what the
// rest of Roster reads: every token and session signs in as its person,
// every inbox's unread count is exact, and the languages are mixed.
func TestSeed(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		var creds bytes.Buffer
		res, err := seed.Seed(ctx, db, seed.Config{Workspaces: 3, UsersPerWorkspace: 40, NotificationsPerUser: 10, Password: "seed-password-1",
			Credentials: &creds})
		if err != nil {
			t.Fatal(err)
		}
		if res.Workspaces != 3 || res.Users != 120 || res.Notifications != 1200 {
			t.Fatalf("result %+v", res)
		}
		set := servicetest.New(t, services.Config{DB: db, Mail: noMail{}})
		langs := map[string]bool{}
		sc := bufio.NewScanner(&creds)
		lines := 0
		for sc.Scan() {
			var c seed.Credential
			if err := json.Unmarshal(sc.Bytes(), &c); err != nil {
				t.Fatal(err)
			}
			lines++
			for _, token := range []string{c.APIToken, c.Session} {
				p, err := set.Auth.Authenticate(ctx, token, "127.0.0.1")
				if err != nil || p.User.ID != c.UserID || p.User.Email != c.Email || p.User.WorkspaceID != c.WorkspaceID {
					t.Fatalf("%s signs in as %+v (%v), want user %d", c.Email, p, err, c.UserID)
				}
				if (p.User.Role == core.RoleAdmin) != c.Admin {
					t.Fatalf("%s: admin %v, role %s", c.Email, c.Admin, p.User.Role)
				}
				langs[p.User.Language] = true
			}
		}
		if lines != 120 || len(langs) < 4 {
			t.Fatalf("%d credentials, languages %v", lines, langs)
		}
		var mismatched int
		if err := db.R.QueryRow(`SELECT COUNT(*) FROM notify_inbox i WHERE i.unread <>
			(SELECT COUNT(*) FROM notifications n WHERE n.user_id = i.user_id AND n.read_at IS NULL)`).Scan(&mismatched); err != nil {
			t.Fatal(err)
		}
		if mismatched != 0 {
			t.Errorf("%d inboxes with a wrong unread count", mismatched)
		}
		checkNotifications(t, db, 10)
		if db.Engine == store.Postgres {
			// Vacuumed and analysed by the seed, not left to autovacuum.
			var vacuumed, analysed bool
			if err := db.R.QueryRow(`SELECT last_vacuum IS NOT NULL, last_analyze IS NOT NULL FROM pg_stat_user_tables
				WHERE relname = 'notifications'`).Scan(&vacuumed, &analysed); err != nil {
				t.Fatal(err)
			}
			if !vacuumed || !analysed {
				t.Errorf("notifications vacuumed %v, analysed %v after the seed", vacuumed, analysed)
			}
		}
		if _, err := seed.Seed(ctx, db, seed.Config{Workspaces: 1, UsersPerWorkspace: 1, Password: "seed-password-1"}); !errors.Is(err, seed.ErrNotEmpty) {
			t.Errorf("seeding a database with data: %v", err)
		}
	})
}

// TestSeedManyNotifications: more events than one statement's texts take
// (500 events of six languages) still give every person each event once,
// in order.
func TestSeedManyNotifications(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		res, err := seed.Seed(context.Background(), db, seed.Config{Workspaces: 2, UsersPerWorkspace: 7, NotificationsPerUser: 520,
			Password: "seed-password-1"})
		if err != nil {
			t.Fatal(err)
		}
		if res.Notifications != 2*7*520 {
			t.Fatalf("result %+v", res)
		}
		checkNotifications(t, db, 520)
	})
}

// checkNotifications: every person has each of the workspace's events once,
// in their workspace, in their language (one text per language an event is
// in), newest last, the older half read.
func checkNotifications(t *testing.T, db *store.DB, perUser int) {
	t.Helper()
	for _, c := range []struct{ what, query string }{
		{"people without exactly their notifications", `SELECT COUNT(*) FROM users u WHERE (SELECT COUNT(*) FROM notifications n
			WHERE n.user_id = u.id AND n.workspace_id = u.workspace_id AND n.event_id IN (SELECT id FROM notify_events e WHERE e.workspace_id = u.workspace_id)) <> ` + fmt.Sprint(perUser) +
			` OR (SELECT COUNT(*) FROM notifications n WHERE n.user_id = u.id) <> ` + fmt.Sprint(perUser)},
		{"people with an event twice", `SELECT COUNT(*) FROM (SELECT user_id, event_id FROM notifications GROUP BY user_id, event_id HAVING COUNT(*) > 1) d`},
		{"pairs out of order", `SELECT COUNT(*) FROM notifications a JOIN notifications b ON a.user_id = b.user_id AND a.id < b.id AND a.created_at >= b.created_at`},
		{"people with a wrong number read", `SELECT COUNT(*) FROM users u WHERE (SELECT COUNT(*) FROM notifications n WHERE n.user_id = u.id AND n.read_at IS NULL) <> ` + fmt.Sprint(perUser/2)},
		{"events whose texts do not follow the languages", `SELECT COUNT(*) FROM (SELECT n.event_id FROM notifications n JOIN users u ON u.id = n.user_id
			GROUP BY n.event_id HAVING COUNT(DISTINCT n.title || '|' || n.body) <> COUNT(DISTINCT u.language)) d`},
	} {
		var n int
		if err := db.R.QueryRow(c.query).Scan(&n); err != nil {
			t.Fatalf("%s: %v", c.what, err)
		}
		if n != 0 {
			t.Errorf("%d %s", n, c.what)
		}
	}
}
