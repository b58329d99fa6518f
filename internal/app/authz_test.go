package app_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"mime/multipart"
	"net/http"
	"net/url"
	"os"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"roster/internal/account"
	"roster/internal/app"
	"roster/internal/auth"
	"roster/internal/core"
	"roster/internal/httpx"
	"roster/internal/profile"
	"roster/internal/seed"
	"roster/internal/store"
)

// The authorization matrix (issue 12; docs/security.md): every route of
// both doors, tried as each kind of caller, answers what the tables below
// say. A route missing from its table fails the test, so a new route must
// be given its row.
//
// Callers, in the order of a row's letters:
//
//	anonymous    no credential
//	plain        a plain member of workspace 1
//	access       a member with the profile-access right
//	admin        workspace 1's admin
//	other        workspace 2's admin (an admin, of another workspace)
//	deactivated  a deactivated member's credential
//	expired      an expired credential (API token; web session)
//	revoked      a revoked credential (API token; web session)
//
// Letters: a = allowed (any answer but 401, 403, 404, a redirect to sign
// in, or 5xx), U = 401, F = 403, N = 404, L = redirect to the sign-in page.
// Ids in paths are workspace 1's: {id} of /users/... is another plain
// member ("target"), of /me/... the plain member's own object, so every
// other caller must get 404 for it.
var callers = []string{"anonymous", "plain", "access", "admin", "other", "deactivated", "expired", "revoked"}

// apiMatrix: every API route.
var apiMatrix = map[string]string{
	"GET /api/v1/audit":                                 "UFFaaUUU",
	"GET /api/v1/deliveries":                            "UFFaaUUU",
	"GET /api/v1/event-types":                           "UaaaaUUU",
	"GET /api/v1/invites":                               "UFFaaUUU",
	"GET /api/v1/me":                                    "UaaaaUUU",
	"GET /api/v1/me/devices":                            "UaaaaUUU",
	"GET /api/v1/me/notification-settings":              "UaaaaUUU",
	"GET /api/v1/me/notifications":                      "UaaaaUUU",
	"GET /api/v1/me/notifications/stream":               "UaaaaUUU",
	"GET /api/v1/me/notifications/unread-count":         "UaaaaUUU",
	"GET /api/v1/me/notifications/{id}/deliveries":      "UaNNNUUU",
	"GET /api/v1/me/push-subscriptions":                 "UaaaaUUU",
	"GET /api/v1/me/sessions":                           "UaaaaUUU",
	"GET /api/v1/me/telegram":                           "UaaaaUUU",
	"GET /api/v1/me/two-factor":                         "UaaaaUUU",
	"GET /api/v1/openapi-3.0.json":                      "aaaaaaaa",
	"GET /api/v1/openapi-3.0.yaml":                      "aaaaaaaa",
	"GET /api/v1/openapi.json":                          "aaaaaaaa",
	"GET /api/v1/openapi.yaml":                          "aaaaaaaa",
	"GET /api/v1/push/vapid-public-key":                 "UaaaaUUU",
	"GET /api/v1/tokens":                                "UFFaaUUU",
	"GET /api/v1/users":                                 "UFaaaUUU",
	"GET /api/v1/users/{id}":                            "UFaaNUUU",
	"GET /api/v1/users/{id}/audit":                      "UFFaNUUU",
	"GET /api/v1/users/{id}/deliveries":                 "UFFaNUUU",
	"GET /api/v1/users/{id}/photo/{version}/{size}":     "UaaaNUUU",
	"GET /api/v1/workspace/notification-defaults":       "UFFaaUUU",
	"GET /api/v1/workspace/security":                    "UFFaaUUU",
	"PATCH /api/v1/me":                                  "UaaaaUUU",
	"PATCH /api/v1/users/{id}":                          "UFaaNUUU",
	"PATCH /api/v1/users/{id}/access":                   "UFFaNUUU",
	"POST /api/v1/auth/login":                           "aaaaaaaa",
	"POST /api/v1/auth/login/resend":                    "aaaaaaaa",
	"POST /api/v1/auth/login/verify":                    "aaaaaaaa",
	"POST /api/v1/deliveries/{id}/retry":                "UFFaNUUU",
	"POST /api/v1/events":                               "UaaaaUUU",
	"POST /api/v1/events:batch":                         "UaaaaUUU",
	"POST /api/v1/invites":                              "UFFaaUUU",
	"POST /api/v1/me/devices":                           "UaaaaUUU",
	"POST /api/v1/me/email-change":                      "UaaaaUUU",
	"POST /api/v1/me/notifications/read-all":            "UaaaaUUU",
	"POST /api/v1/me/notifications/{id}/read":           "UaNNNUUU",
	"POST /api/v1/me/notifications/{id}/unread":         "UaNNNUUU",
	"POST /api/v1/me/push-subscriptions":                "UaaaaUUU",
	"POST /api/v1/me/push-subscriptions:find":           "UaaaaUUU",
	"POST /api/v1/me/telegram-link":                     "UaaaaUUU",
	"POST /api/v1/me/two-factor/backup-codes":           "UFFFFUUU",
	"POST /api/v1/me/two-factor/email":                  "UFFFFUUU",
	"POST /api/v1/me/two-factor/email/confirm":          "UFFFFUUU",
	"POST /api/v1/me/two-factor/send-code":              "UFFFFUUU",
	"POST /api/v1/me/two-factor/totp":                   "UFFFFUUU",
	"POST /api/v1/me/two-factor/totp/confirm":           "UFFFFUUU",
	"POST /api/v1/tokens":                               "UFFFFUUU",
	"POST /api/v1/users/{id}/email-change":              "UFFaNUUU",
	"POST /api/v1/users/{id}/reactivate":                "UFFaNUUU",
	"PUT /api/v1/me/notification-settings":              "UaaaaUUU",
	"PUT /api/v1/me/photo":                              "UaaaaUUU",
	"PUT /api/v1/users/{id}/photo":                      "UFaaNUUU",
	"PUT /api/v1/workspace/notification-defaults":       "UFFaaUUU",
	"PUT /api/v1/workspace/security/ip-allowlist":       "UFFaaUUU",
	"PUT /api/v1/workspace/security/require-two-factor": "UFFaaUUU",
	"DELETE /api/v1/invites/{id}":                       "UFFaNUUU",
	"DELETE /api/v1/me/devices/{id}":                    "UNNNNUUU",
	"DELETE /api/v1/me/email-change":                    "UNNNNUUU",
	"DELETE /api/v1/me/photo":                           "UaaaaUUU",
	"DELETE /api/v1/me/push-subscriptions/{id}":         "UNNNNUUU",
	"DELETE /api/v1/me/sessions/{id}":                   "UaNNNUUU",
	"DELETE /api/v1/me/telegram":                        "UaaaaUUU",
	"DELETE /api/v1/me/two-factor/{method}":             "UFFFFUUU",
	"DELETE /api/v1/tokens/{id}":                        "UFFaNUUU",
	"DELETE /api/v1/users/{id}/email-change":            "UFFaNUUU",
	"DELETE /api/v1/users/{id}/photo":                   "UFaaNUUU",
	"POST /api/v1/users/{id}/deactivate":                "UFFaNUUU",
	"POST /api/v1/users/{id}/two-factor/reset":          "UFFFFUUU",
	"DELETE /api/v1/me/sessions":                        "UaaaaUUU",
	"POST /api/v1/auth/logout":                          "UaaaaUUU",
	"POST /api/v1/me/password":                          "UaaaaUUU",
	"POST /api/v1/users/{id}/password-reset":            "UFFaNUUU",
}

// webMatrix: every page and form.
var webMatrix = map[string]string{
	"GET /email/confirm/{token}":                       "NNNNNNNN",
	"GET /email/undo/{token}":                          "NNNNNNNN",
	"GET /invite/{token}":                              "NNNNNNNN",
	"GET /login":                                       "aaaaaaaa",
	"GET /manifest.webmanifest":                        "aaaaaaaa",
	"GET /notifications":                               "LaaaaLLL",
	"GET /password/reset/{token}":                      "NNNNNNNN",
	"GET /photos/{id}/{version}/{size}":                "LaaaNLLL",
	"GET /settings":                                    "LaaaaLLL",
	"GET /settings/audit":                              "LFFaaLLL",
	"GET /settings/audit.csv":                          "LFFaaLLL",
	"GET /settings/deliveries":                         "LFFaaLLL",
	"GET /settings/notifications":                      "LaaaaLLL",
	"GET /settings/notifications/defaults":             "LFFaaLLL",
	"GET /settings/outbox":                             "LFFaaLLL",
	"GET /settings/outbox/{id}":                        "LFFaNLLL",
	"GET /settings/profile":                            "LaaaaLLL",
	"GET /settings/security":                           "LaaaaLLL",
	"GET /settings/tokens":                             "LFFaaLLL",
	"GET /settings/users":                              "LFaaaLLL",
	"GET /settings/users/{id}":                         "LFaaNLLL",
	"GET /settings/workspace-security":                 "LFFaaLLL",
	"GET /settings/{$}":                                "LaaaaLLL",
	"GET /setup":                                       "LLLLLLLL",
	"GET /static/{name}":                               "NNNNNNNN",
	"GET /sw.js":                                       "aaaaaaaa",
	"GET /unsubscribe/{token}":                         "NNNNNNNN",
	"GET /{$}":                                         "LaaaaLLL",
	"POST /email/undo/{token}":                         "NNNNNNNN",
	"POST /invite/{token}":                             "NNNNNNNN",
	"POST /login":                                      "UUUUUUUU",
	"POST /login/resend":                               "LLLLLLLL",
	"POST /login/verify":                               "LLLLLLLL",
	"POST /notifications/read-all":                     "UaaaaUUU",
	"POST /notifications/{id}/read":                    "UaNNNUUU",
	"POST /notifications/{id}/unread":                  "UaNNNUUU",
	"POST /settings/deliveries/{id}/retry":             "UFFaNUUU",
	"POST /settings/notifications":                     "UaaaaUUU",
	"POST /settings/notifications/defaults":            "UFFaaUUU",
	"POST /settings/notifications/telegram":            "UNNNNUUU",
	"POST /settings/profile":                           "UaaaaUUU",
	"POST /settings/profile/email":                     "UaaaaUUU",
	"POST /settings/profile/photo":                     "UaaaaUUU",
	"POST /settings/security/backup-codes":             "UaaaaUUU",
	"POST /settings/security/email":                    "UaaaaUUU",
	"POST /settings/security/email/confirm":            "UaaaaUUU",
	"POST /settings/security/send-code":                "UaaaaUUU",
	"POST /settings/security/totp":                     "UaaaaUUU",
	"POST /settings/security/totp/confirm":             "UaaaaUUU",
	"POST /settings/tokens":                            "UFFaaUUU",
	"POST /settings/users/invite":                      "UFFaaUUU",
	"POST /settings/users/{id}":                        "UFaaNUUU",
	"POST /settings/users/{id}/access":                 "UFFaNUUU",
	"POST /settings/users/{id}/email":                  "UFFaNUUU",
	"POST /settings/users/{id}/photo":                  "UFaaNUUU",
	"POST /settings/users/{id}/reactivate":             "UFFaNUUU",
	"POST /settings/workspace-security/allowlist":      "UFFaaUUU",
	"POST /settings/workspace-security/require":        "UFFaaUUU",
	"POST /setup":                                      "LLLLLLLL",
	"POST /unsubscribe/{token}":                        "NNNNNNNN",
	"POST /settings/notifications/push/{id}/remove":    "UNNNNUUU",
	"POST /settings/notifications/telegram/disconnect": "UNNNNUUU",
	"POST /settings/profile/email/cancel":              "UaaaaUUU",
	"POST /settings/profile/photo/delete":              "UaaaaUUU",
	"POST /settings/security/devices/{id}/remove":      "UNNNNUUU",
	"POST /settings/security/sessions/{id}/revoke":     "UaNNNUUU",
	"POST /settings/security/{method}/cancel":          "UaaaaUUU",
	"POST /settings/security/{method}/disable":         "UaaaaUUU",
	"POST /settings/tokens/{id}/revoke":                "UFFaNUUU",
	"POST /settings/users/invites/{id}/revoke":         "UFFaNUUU",
	"POST /settings/users/{id}/deactivate":             "UFFaNUUU",
	"POST /settings/users/{id}/email/cancel":           "UFFaNUUU",
	"POST /settings/users/{id}/photo/delete":           "UFaaNUUU",
	"POST /settings/users/{id}/two-factor/reset":       "UFFaNUUU",
	"POST /logout":                                     "LLLLLLLL",
	"POST /password/reset/{token}":                     "NNNNNNNN",
	"POST /settings/profile/password":                  "UaaaaUUU",
	"POST /settings/security/sessions/revoke-others":   "UaaaaUUU",
	"POST /settings/users/{id}/password-reset":         "UFFaNUUU",
}

// noteMarker is the internal note of the plain member and of the target;
// it may appear only in answers to those with the right (access, admin).
const noteMarker = "note-marker-7f3a"

type matrixCaller struct {
	user    *core.User
	token   string // API bearer token (fresh per request for live callers)
	session string // web session cookie value
	fresh   bool   // a fresh API token per request (its own calls may revoke it)
}

type matrixWorld struct {
	r       *running
	callers map[string]*matrixCaller
	ids     map[string]string // path parameter → value
	objects map[string]int64  // workspace 1's objects: see idFor
	bodies  map[string]string // route → body
	// multipart is the Content-Type of the photo forms' bodies.
	multipart string
	password  string
}

// idFor is the {id} of pattern: an object of the plain member where the
// route is about one's own, the target where it is about a person.
func (w *matrixWorld) idFor(pattern string) string {
	for _, k := range []string{"notifications", "sessions", "invites", "tokens", "deliveries", "outbox", "users", "photos"} {
		if strings.Contains(pattern, "/"+k+"/{id}") {
			return strconv.FormatInt(w.objects[k], 10)
		}
	}
	return "999999"
}

func TestAuthorizationMatrix(t *testing.T) {
	each(t, func(t *testing.T, engine store.Engine) {
		t.Run("api", func(t *testing.T) {
			w := newMatrixWorld(t, engine)
			checkMatrix(t, w, "api", apiMatrix, w.r.apiRoutes())
		})
		t.Run("web", func(t *testing.T) {
			w := newMatrixWorld(t, engine)
			checkMatrix(t, w, "web", webMatrix, w.r.webRoutes())
		})
	})
}

// apiRoutes and webRoutes are the app's route patterns of each door,
// without the catch-alls and the operational endpoints.
func (r *running) apiRoutes() []string {
	var out []string
	for _, p := range r.Routes {
		if _, path, _ := strings.Cut(p, " "); strings.HasPrefix(path, "/api/v1/") && path != "/api/v1/" {
			out = append(out, p)
		}
	}
	return out
}

func (r *running) webRoutes() []string {
	var out []string
	for _, p := range r.Routes {
		if _, path, _ := strings.Cut(p, " "); !strings.HasPrefix(path, "/api/") && path != "/" && path != "" {
			out = append(out, p)
		}
	}
	return out
}

func newMatrixWorld(t *testing.T, engine store.Engine) *matrixWorld {
	t.Helper()
	ctx := context.Background()
	r := start(t, engine, app.Config{APIRate: 1e6, APIBurst: 1_000_000})
	const password = "matrix-password-1"
	var creds bytes.Buffer
	if _, err := seed.Seed(ctx, r.DB, seed.Config{Workspaces: 2, UsersPerWorkspace: 5, NotificationsPerUser: 2,
		Password: password, Credentials: &creds}); err != nil {
		t.Fatal(err)
	}
	var list []seed.Credential
	dec := json.NewDecoder(&creds)
	for dec.More() {
		var c seed.Credential
		if err := dec.Decode(&c); err != nil {
			t.Fatal(err)
		}
		list = append(list, c)
	}
	user := func(i int) *core.User {
		u, err := r.DB.Reader().User(ctx, list[i].UserID)
		if err != nil {
			t.Fatal(err)
		}
		return u
	}
	admin, plain, access, deactivated, target, other := user(0), user(1), user(2), user(3), user(4), user(5)
	if !admin.IsAdmin() || !other.IsAdmin() || plain.IsAdmin() || other.WorkspaceID == admin.WorkspaceID {
		t.Fatal("seeded people are not as expected")
	}
	if _, err := r.Accounts.SetAccess(ctx, admin, access.ID, account.AccessInput{Role: core.RoleUser,
		Rights: []core.Right{core.RightProfileAccess}}); err != nil {
		t.Fatal(err)
	}
	for _, u := range []*core.User{plain, target} {
		if _, err := r.Profiles.Update(ctx, admin, u.ID, profileNote(noteMarker), ""); err != nil {
			t.Fatal(err)
		}
	}
	w := &matrixWorld{r: r, password: password, callers: map[string]*matrixCaller{
		"anonymous":   {},
		"plain":       {user: plain, session: list[1].Session, fresh: true},
		"access":      {user: access, session: list[2].Session, fresh: true},
		"admin":       {user: admin, session: list[0].Session, fresh: true},
		"other":       {user: other, session: list[5].Session, fresh: true},
		"deactivated": {user: deactivated, token: list[3].APIToken, session: list[3].Session},
	}}
	// Expired and revoked credentials of the target, who stays active.
	expired, expiredTokenID := newToken(t, r, target)
	revoked, revokedTokenID := newToken(t, r, target)
	if err := r.Auth.RevokeAPIToken(ctx, admin, revokedTokenID); err != nil {
		t.Fatal(err)
	}
	newSession := func() (string, int64) {
		before, err := r.DB.Reader().UserSessions(ctx, target.ID)
		if err != nil {
			t.Fatal(err)
		}
		cookie := w.signIn(t, target.Email)
		after, err := r.DB.Reader().UserSessions(ctx, target.ID)
		if err != nil {
			t.Fatal(err)
		}
		for _, s := range after {
			if !slices.ContainsFunc(before, func(b *core.Session) bool { return b.ID == s.ID }) {
				return cookie, s.ID
			}
		}
		t.Fatal("no new session")
		return "", 0
	}
	expiredSession, expiredID := newSession()
	revokedSession, revokedID := newSession()
	past := time.Now().Add(-48 * time.Hour).UnixMilli()
	if _, err := r.DB.W.ExecContext(ctx, r.DB.Rebind("UPDATE api_tokens SET expires_at = ? WHERE id = ?"), past, expiredTokenID); err != nil {
		t.Fatal(err)
	}
	if _, err := r.DB.W.ExecContext(ctx, r.DB.Rebind("UPDATE sessions SET expires_at = ? WHERE id = ?"), past, expiredID); err != nil {
		t.Fatal(err)
	}
	if err := r.Auth.RevokeSession(ctx, target, revokedID); err != nil {
		t.Fatal(err)
	}
	w.callers["expired"] = &matrixCaller{user: target, token: expired, session: expiredSession}
	w.callers["revoked"] = &matrixCaller{user: target, token: revoked, session: revokedSession}
	if _, err := r.Accounts.SetState(ctx, admin, deactivated.ID, core.StateInactive); err != nil {
		t.Fatal(err)
	}
	// Workspace 1's objects the {id}s name (idFor), made as its admin.
	adminToken, _ := newToken(t, r, admin)
	call := func(method, path, contentType string, body []byte) []byte {
		t.Helper()
		status, out := apiRequest(t, r, method, path, adminToken, contentType, body)
		if status/100 != 2 {
			t.Fatalf("%s %s: %d %s", method, path, status, out)
		}
		return out
	}
	call(http.MethodPut, fmt.Sprintf("/api/v1/users/%d/photo", target.ID), "image/png", photoPNG(t))
	var invite struct{ ID int64 }
	if err := json.Unmarshal(call(http.MethodPost, "/api/v1/invites", "application/json", []byte(`{"email":"matrix.invitee@example.com"}`)), &invite); err != nil {
		t.Fatal(err)
	}
	call(http.MethodPost, "/api/v1/events", "application/json",
		[]byte(fmt.Sprintf(`{"type":"task.assigned","recipients":[%d],"data":{"title":"Matrix","from":"Ada"}}`, plain.ID)))
	_, keptToken := newToken(t, r, target)
	w.objects = map[string]int64{"users": target.ID, "photos": target.ID, "invites": invite.ID, "tokens": keptToken}
	first := func(what, query string, args ...any) int64 {
		t.Helper()
		var id int64
		waitFor(t, what, func() bool { return r.DB.R.QueryRowContext(ctx, r.DB.Rebind(query), args...).Scan(&id) == nil })
		return id
	}
	w.objects["notifications"] = first("a notification", "SELECT id FROM notifications WHERE user_id = ? ORDER BY id LIMIT 1", plain.ID)
	w.objects["sessions"] = first("a session", "SELECT id FROM sessions WHERE user_id = ? ORDER BY id LIMIT 1", plain.ID)
	w.objects["deliveries"] = first("a delivery", "SELECT id FROM notify_deliveries WHERE user_id = ? ORDER BY id LIMIT 1", plain.ID)
	w.objects["outbox"] = first("the invitation in the outbox", "SELECT id FROM dev_outbox ORDER BY id LIMIT 1")
	withPhoto, err := r.DB.Reader().User(ctx, target.ID)
	if err != nil || withPhoto.PhotoVersion == 0 {
		t.Fatalf("target's photo: %+v %v", withPhoto, err)
	}
	w.ids = map[string]string{"method": "totp", "version": strconv.Itoa(int(withPhoto.PhotoVersion)), "size": "48", "token": "no-such-token",
		"name": "no-such-asset"}
	png := string(photoPNG(t))
	var mp bytes.Buffer
	mw := multipart.NewWriter(&mp)
	fw, _ := mw.CreateFormFile("photo", "me.png")
	_, _ = fw.Write([]byte(png))
	_ = mw.Close()
	w.multipart = mw.FormDataContentType()
	w.bodies = map[string]string{
		"PATCH /api/v1/users/{id}":                          `{"name":"Tess Target"}`,
		"PATCH /api/v1/users/{id}/access":                   `{"role":"user"}`,
		"POST /api/v1/invites":                              `{"email":"matrix.second@example.com"}`,
		"POST /api/v1/tokens":                               `{"name":"matrix"}`,
		"POST /api/v1/users/{id}/email-change":              `{"email":"tess.new@example.com"}`,
		"PUT /api/v1/workspace/notification-defaults":       `{"types":{}}`,
		"PUT /api/v1/workspace/security/ip-allowlist":       `{"entries":[]}`,
		"PUT /api/v1/workspace/security/require-two-factor": `{"enabled":false}`,
		"POST /api/v1/events":                               fmt.Sprintf(`{"type":"task.assigned","recipients":[%d],"data":{"title":"Matrix","from":"Ada"}}`, plain.ID),
		"POST /api/v1/events:batch":                         fmt.Sprintf(`{"events":[{"type":"task.assigned","recipients":[%d],"data":{"title":"Matrix","from":"Ada"}}]}`, plain.ID),
		"PUT /api/v1/users/{id}/photo":                      png,
		"PUT /api/v1/me/photo":                              png,
		"POST /settings/users/{id}":                         "name=Tess+Target",
		"POST /settings/users/{id}/access":                  "role=user",
		"POST /settings/users/invite":                       "email=matrix.third%40example.com&role=user",
		"POST /settings/tokens":                             "name=matrix&expiry=30",
		"POST /settings/users/{id}/email":                   "email=tess.newer%40example.com",
		"POST /settings/users/{id}/photo":                   mp.String(),
		"POST /settings/profile/photo":                      mp.String(),
	}
	return w
}

func profileNote(s string) profile.Changes { return profile.Changes{Note: &s} }

// signIn returns a new web session cookie value for email.
func (w *matrixWorld) signIn(t *testing.T, email string) string {
	t.Helper()
	form := url.Values{"email": {email}, "password": {w.password}}
	req, _ := http.NewRequest(http.MethodPost, w.r.URL+"/login", strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	resp, err := noRedirects.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	for _, c := range resp.Cookies() {
		if c.Name == "roster_session" && c.Value != "" {
			return c.Value
		}
	}
	t.Fatalf("sign-in of %s: %d, no session", email, resp.StatusCode)
	return ""
}

var regexpDestructive = regexp.MustCompile(`/(delete|revoke|deactivate|remove|disable|cancel|reset|disconnect)\b`)

var noRedirects = &http.Client{Timeout: 20 * time.Second,
	CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}

// checkMatrix tries every route as every caller and compares the answers
// with the table. With ROSTER_MATRIX_PRINT=1 it prints the table it saw.
func checkMatrix(t *testing.T, w *matrixWorld, door string, table map[string]string, routes []string) {
	ctx := context.Background()
	// Reads first, then changes, then what removes or revokes (the
	// target's photo must be there when read; one's other sessions when
	// one of them is revoked by id).
	rank := func(route string) int {
		method, path, _ := strings.Cut(route, " ")
		switch {
		case method == http.MethodGet:
			return 0
		case method == http.MethodDelete && strings.HasSuffix(path, "/sessions"), strings.Contains(path, "revoke-others"),
			strings.Contains(path, "logout"), strings.Contains(path, "password"):
			return 3
		case method == http.MethodDelete, regexpDestructive.MatchString(path):
			return 2
		}
		return 1
	}
	slices.SortFunc(routes, func(a, b string) int {
		if d := rank(a) - rank(b); d != 0 {
			return d
		}
		return strings.Compare(a, b)
	})
	pathOf := func(pattern string) string {
		path := strings.ReplaceAll(pattern, "{id}", w.idFor(pattern))
		for k, v := range w.ids {
			path = strings.ReplaceAll(path, "{"+k+"}", v)
		}
		return strings.TrimSuffix(path, "{$}")
	}
	// CSRF on every state-changing route: the admin's own browser, sent
	// there by another site, is refused by the cross-origin check itself
	// (its own message, not some other 403), whether the browser says so
	// in Sec-Fetch-Site or only its Origin differs (older browsers).
	refusal := map[string]string{"web": "This form was sent from another site", "api": "Cross-origin request refused."}[door]
	for _, crossSite := range []map[string]string{
		{"Origin": "https://evil.example", "Sec-Fetch-Site": "cross-site"},
		{"Origin": "https://evil.example"},
	} {
		for _, route := range routes {
			method, pattern, _ := strings.Cut(route, " ")
			if method == http.MethodGet || method == http.MethodHead {
				continue
			}
			if status, _, body := w.do(t, ctx, door, w.callers["admin"], route, method, pathOf(pattern), crossSite); status != http.StatusForbidden || !strings.Contains(body, refusal) {
				t.Errorf("%s cross-site (%v) as the admin: %d, want 403 with %q: %.200s", route, crossSite, status, refusal, body)
			}
		}
	}
	seen := map[string][]byte{}
	var lines []string
	for _, route := range routes {
		method, pattern, _ := strings.Cut(route, " ")
		path := pathOf(pattern)
		row := make([]byte, len(callers))
		for i, name := range callers {
			c := w.callers[name]
			status, location, body := w.do(t, ctx, door, c, route, method, path, nil)
			row[i] = letter(door, status, location)
			if strings.Contains(body, noteMarker) && name != "access" && name != "admin" {
				t.Errorf("%s as %s: the note is in the answer", route, name)
			}
		}
		seen[route] = row
		lines = append(lines, fmt.Sprintf("\t%q: %q,", route, string(row)))
	}
	if os.Getenv("ROSTER_MATRIX_PRINT") != "" {
		fmt.Printf("%s matrix:\n%s\n", door, strings.Join(lines, "\n"))
	}
	for route, row := range seen {
		want, ok := table[route]
		if !ok {
			t.Errorf("%s: not in the %s matrix (saw %s)", route, door, row)
			continue
		}
		if want != string(row) {
			t.Errorf("%s: answers %s, want %s (callers %s)", route, row, want, strings.Join(callers, " "))
		}
	}
	for route := range table {
		if _, ok := seen[route]; !ok {
			t.Errorf("%s: in the %s matrix but not served", route, door)
		}
	}
}

func letter(door string, status int, location string) byte {
	switch {
	case status >= 500:
		return '5'
	case status == http.StatusUnauthorized:
		return 'U'
	case status == http.StatusForbidden:
		return 'F'
	case status == http.StatusNotFound:
		return 'N'
	case door == "web" && status/100 == 3 && strings.HasPrefix(location, "/login"):
		return 'L'
	}
	return 'a'
}

// do sends one request as c: the route's body from bodies, else an empty
// JSON object (API) or an empty form (web). A stream's answer is not read
// past its head.
// do sends route's request to path as c, with the extra headers, and
// returns its status, Location and body. Every HTML answer must carry the
// security headers.
func (w *matrixWorld) do(t *testing.T, ctx context.Context, door string, c *matrixCaller, route, method, path string, extra map[string]string) (int, string, string) {
	t.Helper()
	var body io.Reader
	contentType := "application/json"
	if door == "web" {
		contentType = "application/x-www-form-urlencoded"
	}
	if method != http.MethodGet && method != http.MethodHead && method != http.MethodDelete {
		b, ok := w.bodies[route]
		switch {
		case ok && strings.HasPrefix(b, "\x89PNG"):
			contentType = "image/png"
		case ok && strings.Contains(route, "/photo") && door == "web":
			contentType = w.multipart
		case !ok && door == "api":
			b = "{}"
		}
		body = strings.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctx, method, w.r.URL+path, body)
	if err != nil {
		t.Fatal(err)
	}
	if body != nil {
		req.Header.Set("Content-Type", contentType)
	}
	for k, v := range extra {
		req.Header.Set(k, v)
	}
	if door == "api" {
		token := c.token
		if c.fresh {
			token, _ = newToken(t, w.r, c.user)
		}
		if token != "" {
			req.Header.Set("Authorization", "Bearer "+token)
		}
	} else {
		session := c.session
		if c.fresh {
			session = newSession(t, w.r, c.user)
		}
		if session != "" {
			req.AddCookie(&http.Cookie{Name: "roster_session", Value: session})
		}
	}
	resp, err := noRedirects.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if strings.HasPrefix(resp.Header.Get("Content-Type"), "text/html") {
		h := resp.Header
		csp := httpx.ContentSecurityPolicy
		if route == "GET /settings/outbox/{id}" && resp.StatusCode == http.StatusOK {
			// A dev-outbox mail's HTML, shown in the outbox page's iframe:
			// sandboxed, no script, framed only by Roster itself.
			csp = "sandbox; default-src 'none'; img-src data: https:; style-src 'unsafe-inline'; frame-ancestors 'self'"
		}
		if h.Get("Content-Security-Policy") != csp || !strings.Contains(csp, "frame-ancestors 'none'") && !strings.Contains(csp, "sandbox") ||
			h.Get("X-Content-Type-Options") != "nosniff" || h.Get("Referrer-Policy") == "" {
			t.Errorf("%s (%d): an HTML answer without its security headers: CSP %q, nosniff %q, Referrer-Policy %q", route, resp.StatusCode,
				h.Get("Content-Security-Policy"), h.Get("X-Content-Type-Options"), h.Get("Referrer-Policy"))
		}
	}
	if strings.HasPrefix(resp.Header.Get("Content-Type"), "text/event-stream") {
		return resp.StatusCode, "", ""
	}
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, resp.Header.Get("Location"), string(b)
}

// newToken makes an API token for u in the store, as seed does (through
// the service only admins make tokens), and returns it and its id.
func newToken(t *testing.T, r *running, u *core.User) (string, int64) {
	t.Helper()
	ctx := context.Background()
	raw := auth.APITokenPrefix + auth.NewToken()
	now := time.Now()
	tok := &core.APIToken{UserID: u.ID, Name: "matrix", TokenHash: auth.HashToken(raw), CreatedAt: now, ExpiresAt: now.Add(auth.MinTokenTTL)}
	if err := r.DB.InTx(ctx, func(q *store.Q) error { return q.CreateAPIToken(ctx, tok) }); err != nil {
		t.Fatal(err)
	}
	return raw, tok.ID
}

// newSession makes a web session for u in the store and returns its
// cookie value.
func newSession(t *testing.T, r *running, u *core.User) string {
	t.Helper()
	ctx := context.Background()
	raw := auth.NewToken()
	now := time.Now()
	sess := &core.Session{UserID: u.ID, Kind: core.SessionWeb, TokenHash: auth.HashToken(raw), CreatedAt: now, LastSeenAt: now,
		ExpiresAt: now.Add(time.Hour)}
	if err := r.DB.InTx(ctx, func(q *store.Q) error { return q.CreateSession(ctx, sess) }); err != nil {
		t.Fatal(err)
	}
	return raw
}
