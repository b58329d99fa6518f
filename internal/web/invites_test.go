package web

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"testing"

	"roster/internal/core"
	"roster/internal/store"
	"roster/internal/store/storetest"
)

// invite sends an invitation from the users page and returns its id and
// the path of its link.
func (e *env) invite(cookie, email string) (int64, string) {
	e.t.Helper()
	wantRedirect(e.t, e.post("/settings/users/invite", cookie, url.Values{"email": {email}, "role": {"user"}}),
		http.StatusSeeOther, "/settings/users?done=invited")
	link, _ := e.queue.last(e.t).Data["Link"].(string)
	path := "/invite/" + linkRE.FindStringSubmatch(link)[1]
	m, err := e.db.Reader().OpenInvites(context.Background(), 1)
	if err != nil {
		e.t.Fatal(err)
	}
	for _, inv := range m {
		if inv.Email == email {
			return inv.ID, path
		}
	}
	e.t.Fatalf("invite of %s not listed", email)
	return 0, ""
}

func TestRevokeInvitePage(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		e := newEnv(t, db)
		e.setup("en")
		admin := e.login("ada@acme.test")
		e.createUser("Acme", "Bob Builder", "bob@acme.test", core.RoleUser)
		bob := e.login("bob@acme.test")
		e.createUser("Other Co", "Olga Other", "olga@other.test", core.RoleAdmin)
		olga := e.login("olga@other.test")

		id, path := e.invite(admin, "carol@acme.test")
		action := fmt.Sprintf("/settings/users/invites/%d/revoke", id)
		w := e.get("/settings/users", admin)
		wantContains(t, w, `action="`+action+`"`, "Revoke the invitation for carol@acme.test?")
		checkNoInline(t, "users", w.Body.String())

		wantStatus(t, e.post(action, olga, nil), http.StatusNotFound)
		wantStatus(t, e.post(action, bob, nil), http.StatusForbidden)
		wantStatus(t, e.get(path, ""), http.StatusOK)

		// A plain form post: no script needed.
		wantRedirect(t, e.post(action, admin, url.Values{"page": {"1"}}), http.StatusSeeOther, "/settings/users?done=invite_revoked")
		w = e.get("/settings/users?done=invite_revoked", admin)
		wantContains(t, w, "Invitation revoked. Its link no longer works.")
		wantNotContains(t, w, "carol@acme.test")
		wantStatus(t, e.post(action, admin, nil), http.StatusNotFound)

		w = e.get(path, "")
		wantStatus(t, w, http.StatusNotFound)
		wantContains(t, w, "This invitation was withdrawn. Ask an admin of the workspace for a new one.")
		w = e.do(req{method: "GET", path: path, header: map[string]string{"Accept-Language": "tr"}})
		wantContains(t, w, "Bu davet geri çekildi.")
		wantStatus(t, e.post(path, "", url.Values{"name": {"Carol"}, "password": {password}}), http.StatusNotFound)

		w = e.get("/settings/audit?type=invite.", admin)
		wantContains(t, w, "Invitation sent", "Invitation revoked", "carol@acme.test")
	})
}

func TestDeactivatedInvitersLinkDies(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		e := newEnv(t, db)
		e.setup("en")
		admin := e.login("ada@acme.test")
		second := e.createUser("Acme", "Sid Second", "sid@acme.test", core.RoleAdmin)
		sid := e.login("sid@acme.test")
		_, path := e.invite(sid, "dora@acme.test")
		wantStatus(t, e.get(path, ""), http.StatusOK)
		wantRedirect(t, e.post(fmt.Sprintf("/settings/users/%d/deactivate", second.ID), admin, nil),
			http.StatusSeeOther, "/settings/users?done=deactivated")
		wantRedirect(t, e.post(fmt.Sprintf("/settings/users/%d/reactivate", second.ID), admin, nil),
			http.StatusSeeOther, "/settings/users?done=reactivated")
		w := e.get(path, "")
		wantStatus(t, w, http.StatusNotFound)
		wantContains(t, w, "This invitation was withdrawn.")
		w = e.get("/settings/audit?type=user.", admin)
		wantContains(t, w, "User deactivated", "User reactivated")
	})
}
