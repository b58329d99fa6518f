package web

import (
	"strings"
	"testing"

	"roster/internal/core"
	"roster/internal/store"
	"roster/internal/store/storetest"
)

// TestQueriesPerPage: a signed-in person's profile page on SQLite reads
// nothing but an admin's audit log: the session, the workspace, its
// policy, the pending email change and the bell's count come from the
// caches.
func TestQueriesPerPage(t *testing.T) {
	e := newEnv(t, storetest.Open(t, store.SQLite))
	admin := e.setup("en")
	e.createUser("Acme", "Bea Lima", "bea@acme.test", core.RoleUser)
	for _, c := range []struct {
		email string
		most  int
	}{{"bea@acme.test", 0}, {admin.Email, 1}} {
		cookie := e.login(c.email)
		e.get("/settings/profile", cookie) // the first request fills the caches
		stop := storetest.Queries(e.db)
		w := e.get("/settings/profile", cookie)
		seen := stop()
		if w.Code != 200 {
			t.Fatalf("%s: %d", c.email, w.Code)
		}
		if len(seen) > c.most {
			t.Errorf("%s: the profile page made %d queries, at most %d:\n%s", c.email, len(seen), c.most, strings.Join(seen, "\n"))
		}
		for _, q := range seen {
			if strings.Contains(q, "FROM sessions") || strings.Contains(q, "FROM workspaces") || strings.Contains(q, "FROM email_changes") || strings.Contains(q, "FROM notify_inbox") {
				t.Errorf("%s: a cached read went to the database: %s", c.email, q)
			}
		}
	}
}
