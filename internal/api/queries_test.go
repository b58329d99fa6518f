package api

import (
	"net/http"
	"strings"
	"testing"

	"roster/internal/store"
	"roster/internal/store/storetest"
)

// TestQueriesPerRequest holds the hottest reads to the queries they make
// (issue 11: GET /me made seven; now none): a bearer token and its user are one
// query. A change that adds one must move this bound on purpose.
func TestQueriesPerRequest(t *testing.T) {
	e := newEnv(t, storetest.Open(t, store.SQLite), envOpts{})
	tok := e.login(e.admin.Email)
	e.do("GET", "/me", "", bearer(tok)).status(http.StatusOK) // the first use touches the session
	stop := storetest.Queries(e.db)
	e.do("GET", "/me", "", bearer(tok)).status(http.StatusOK)
	seen := stop()
	// The session, the workspace's policy and the pending email change
	// (none) come from the caches (the first request read them),
	// two-step verification's summary from the user row when it is off.
	const most = 0
	if len(seen) > most {
		t.Errorf("GET /me made %d queries, at most %d:\n%s", len(seen), most, strings.Join(seen, "\n"))
	}
	for _, q := range seen {
		if strings.HasPrefix(q, "SELECT") && strings.Contains(q, "FROM sessions WHERE token_hash") {
			t.Errorf("the session is read apart from its user: %s", q)
		}
		if strings.Contains(q, "FROM sessions") || strings.Contains(q, "FROM workspaces") || strings.Contains(q, "FROM email_changes") {
			t.Errorf("a cached read went to the database: %s", q)
		}
	}
	t.Logf("GET /me: %d queries:\n%s", len(seen), strings.Join(seen, "\n"))
}
