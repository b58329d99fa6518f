package seed_test

import (
	"bufio"
	"bytes"
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"testing"

	"roster/internal/core"
	"roster/internal/i18n"
	"roster/internal/notify"
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
		var list []seed.Credential
		for sc.Scan() {
			var c seed.Credential
			if err := json.Unmarshal(sc.Bytes(), &c); err != nil {
				t.Fatal(err)
			}
			lines++
			list = append(list, c)
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
		// Ids follow the workspaces' order: Seed 1 is the default one.
		rows, err := db.R.Query("SELECT name FROM workspaces ORDER BY id")
		if err != nil {
			t.Fatal(err)
		}
		var names []string
		for rows.Next() {
			var name string
			if err := rows.Scan(&name); err != nil {
				t.Fatal(err)
			}
			names = append(names, name)
		}
		rows.Close()
		for i, name := range names {
			if !strings.HasPrefix(name, fmt.Sprintf("Seed %d ", i+1)) {
				t.Errorf("workspaces by id: %q", names)
				break
			}
		}
		// The lines come a workspace at a time, in the workspaces' order
		// (PostgreSQL seeds them side by side), each admin first.
		for i, c := range list {
			var name string
			if err := db.R.QueryRow(db.Rebind("SELECT name FROM workspaces WHERE id = ?"), c.WorkspaceID).Scan(&name); err != nil {
				t.Fatal(err)
			}
			if want := fmt.Sprintf("Seed %d ", i/40+1); !strings.HasPrefix(name, want) || c.Admin != (i%40 == 0) {
				t.Fatalf("line %d: workspace %q, admin %v; want %q…, admin %v", i+1, name, c.Admin, want, i%40 == 0)
			}
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
// (500 events of six languages), for people in several batches, still give
// every person each event once, in order.
func TestSeedManyNotifications(t *testing.T) {
	// Batches of 3 of the 7 people: each batch's id range is its own.
	seed.SetUserBatch(t, 3)
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
		{"read notifications newer than an unread one, or read at another time", `SELECT COUNT(*) FROM notifications r
			WHERE r.read_at IS NOT NULL AND (r.read_at <> r.created_at + 60000 OR EXISTS (SELECT 1 FROM notifications u
			WHERE u.user_id = r.user_id AND u.read_at IS NULL AND u.created_at <= r.created_at))`},
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
	// Each language's first notification says what Render says in it.
	bundle, err := i18n.New()
	if err != nil {
		t.Fatal(err)
	}
	rows, err := db.R.Query(`SELECT u.language, n.title, n.body, n.url, e.type, e.data FROM notifications n
		JOIN users u ON u.id = n.user_id JOIN notify_events e ON e.id = n.event_id
		WHERE n.id IN (SELECT MIN(m.id) FROM notifications m JOIN users v ON v.id = m.user_id GROUP BY v.language)`)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	langs := 0
	for rows.Next() {
		var lang, title, body, link, typ, data string
		if err := rows.Scan(&lang, &title, &body, &link, &typ, &data); err != nil {
			t.Fatal(err)
		}
		langs++
		var fields map[string]any
		if err := json.Unmarshal([]byte(data), &fields); err != nil {
			t.Fatal(err)
		}
		tp, ok := notify.TypeOf(typ)
		if !ok {
			t.Fatalf("type %q", typ)
		}
		want := notify.Render(tp, fields, bundle.Localizer(lang))
		if title != want.Title || body != want.Body || link != want.URL {
			t.Errorf("%s: %q / %q / %q, want %q / %q / %q", lang, title, body, link, want.Title, want.Body, want.URL)
		}
	}
	if err := rows.Err(); err != nil || langs < 4 {
		t.Errorf("%d languages checked (%v)", langs, err)
	}
}
