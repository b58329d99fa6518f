package api

// Adversarial review tests (n9); expected to FAIL on the current code.

import (
	"fmt"
	"net/http"
	"testing"

	"roster/internal/core"
	"roster/internal/store"
	"roster/internal/store/storetest"
)

// The issue: POST /api/v1/events takes "an API token of the workspace".
// Any signed-in member, with a browser session, can post an event to
// "all" with a title and link of their choosing (phishing in the bell).
func TestReviewMemberSessionCannotBroadcastEvents(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		e := newEnv(t, db, envOpts{deps: roomy})
		bob := e.user("Acme", "Bob", "bob@example.com", core.RoleUser)
		tok := e.login(bob.Email)
		body := `{"type":"system.billing","recipients":"all","data":{"title":"Your plan","days":0,"url":"https://evil.example/pay"}}`
		r := e.do("POST", "/events", body, bearer(tok))
		if r.code == http.StatusAccepted {
			t.Fatalf("a member's session posted a workspace-wide event: %d %s", r.code, r.body)
		}
		_ = fmt.Sprint
	})
}
