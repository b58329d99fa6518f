package seed_test

import (
	"bufio"
	"bytes"
	"context"
	"database/sql"
	"encoding/json"
	"errors"
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
		if _, err := seed.Seed(ctx, db, seed.Config{Workspaces: 1, UsersPerWorkspace: 1, Password: "seed-password-1"}); !errors.Is(err, seed.ErrNotEmpty) {
			t.Errorf("seeding a database with data: %v", err)
		}
	})
}
