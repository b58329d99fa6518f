package api

import (
	"encoding/json"
	"fmt"
	"net/http"
	"testing"

	"roster/internal/core"
	"roster/internal/store"
	"roster/internal/store/storetest"
)

func TestListAndRevokeInvites(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		e := newEnv(t, db, envOpts{})
		e.user("Acme", "Bob", "bob@example.com", core.RoleUser)
		bobTok := e.login("bob@example.com")
		e.user("Other", "Olga", "olga@other.io", core.RoleAdmin)
		olgaTok := e.login("olga@other.io")

		var inv Invite
		r := e.do("POST", "/invites", `{"email":"guest@example.com"}`, bearer(e.adminSession)).status(http.StatusCreated)
		if err := json.Unmarshal(r.body, &inv); err != nil || inv.InvitedBy != e.admin.ID {
			t.Fatalf("invite %s (%v)", r.body, err)
		}
		var list inviteList
		r = e.do("GET", "/invites", "", bearer(e.adminSession)).status(http.StatusOK)
		if err := json.Unmarshal(r.body, &list); err != nil || len(list.Items) != 1 || list.Items[0].ID != inv.ID {
			t.Fatalf("list %s (%v)", r.body, err)
		}
		r = e.do("GET", "/invites", "", bearer(olgaTok)).status(http.StatusOK)
		if err := json.Unmarshal(r.body, &list); err != nil || len(list.Items) != 0 {
			t.Fatalf("another workspace lists %s (%v)", r.body, err)
		}
		e.do("GET", "/invites", "", bearer(bobTok)).problem(http.StatusForbidden)

		path := fmt.Sprintf("/invites/%d", inv.ID)
		e.do("DELETE", path, "", bearer(olgaTok)).problem(http.StatusNotFound)
		e.do("DELETE", path, "", bearer(bobTok)).problem(http.StatusForbidden)
		e.do("DELETE", path, "", bearer(e.adminSession)).status(http.StatusNoContent)
		e.do("DELETE", path, "", bearer(e.adminSession)).problem(http.StatusNotFound)
		r = e.do("GET", "/invites", "", bearer(e.adminSession)).status(http.StatusOK)
		if err := json.Unmarshal(r.body, &list); err != nil || len(list.Items) != 0 {
			t.Fatalf("revoked still listed %s (%v)", r.body, err)
		}
	})
}
