package app_test

import (
	"context"
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"roster/internal/app"
	"roster/internal/auth"
	"roster/internal/httpx"
	"roster/internal/store"
)

// TestHandlerBlockedInTheDatabaseIsCancelled: with the row a save needs
// locked elsewhere (SQLite: the one writer held by another transaction;
// PostgreSQL: the user's row locked FOR UPDATE), a save through the API and
// one through the page are cancelled at the handler's Work time and answer
// 503 with Retry-After and the translated message, instead of hanging for
// the lock (SQLite's busy wait, PostgreSQL's lock wait: no bound). Nothing
// was saved; once the lock is gone the same save works.
func TestHandlerBlockedInTheDatabaseIsCancelled(t *testing.T) {
	each(t, func(t *testing.T, engine store.Engine) {
		ctx := context.Background()
		r := start(t, engine, app.Config{Timeouts: httpx.Timeouts{Work: 2 * time.Second}, APIRate: 1000, APIBurst: 1000})
		setup := setupAna(t, r, "es")
		token, _ := newToken(t, r, setup.User)
		cookie := newSession(t, r, setup.User)
		// The client's own bound: without the Work deadline the request
		// would wait until the lock goes, which is after this.
		client := &http.Client{Timeout: 8 * time.Second}

		locked, release, held := make(chan struct{}), make(chan struct{}), make(chan error, 1)
		go func() {
			held <- r.DB.InTx(ctx, func(q *store.Q) error {
				if engine == store.Postgres {
					if _, err := q.Tx.ExecContext(ctx, "SELECT id FROM users WHERE id = $1 FOR UPDATE", setup.User.ID); err != nil {
						return err
					}
				}
				close(locked)
				<-release
				return nil
			})
		}()
		<-locked
		released := false
		unlock := func() {
			if !released {
				released = true
				close(release)
				if err := <-held; err != nil {
					t.Errorf("the locking transaction: %v", err)
				}
			}
		}
		defer unlock()

		send := func(req *http.Request) (*http.Response, string) {
			t.Helper()
			res, err := client.Do(req)
			if err != nil {
				t.Fatalf("%s %s: %v (the handler was not cancelled)", req.Method, req.URL.Path, err)
			}
			defer res.Body.Close()
			body, _ := io.ReadAll(res.Body)
			return res, string(body)
		}
		patch := func() *http.Request {
			req, _ := http.NewRequest(http.MethodPatch, r.URL+"/api/v1/me", strings.NewReader(`{"name":"Ana Overtime"}`))
			req.Header.Set("Authorization", "Bearer "+token)
			req.Header.Set("Content-Type", "application/json")
			req.Header.Set("Accept-Language", "es")
			return req
		}
		save := func() *http.Request {
			form := url.Values{"name": {"Ana Página"}, "phone": {""}, "language": {"es"}, "timezone": {"UTC"}}
			req, _ := http.NewRequest(http.MethodPost, r.URL+"/settings/profile", strings.NewReader(form.Encode()))
			req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
			req.AddCookie(&http.Cookie{Name: auth.CookieName, Value: cookie})
			return req
		}
		const message = "La solicitud tardó demasiado y se detuvo"
		for _, req := range []*http.Request{patch(), save()} {
			res, body := send(req)
			if res.StatusCode != http.StatusServiceUnavailable || res.Header.Get("Retry-After") == "" || !strings.Contains(body, message) {
				t.Fatalf("%s %s while the row is locked: %d, Retry-After %q, %.300s", req.Method, req.URL.Path, res.StatusCode, res.Header.Get("Retry-After"), body)
			}
		}
		unlock()

		u, err := r.DB.Reader().User(ctx, setup.User.ID)
		if err != nil {
			t.Fatal(err)
		}
		if u.Name != "Ana" {
			t.Fatalf("a cancelled save was stored: name %q", u.Name)
		}
		if res, body := send(patch()); res.StatusCode != http.StatusOK {
			t.Fatalf("the save after the lock went: %d %s", res.StatusCode, body)
		}
		if res, body := send(save()); res.StatusCode != http.StatusOK && res.StatusCode != http.StatusSeeOther {
			t.Fatalf("the page's save after the lock went: %d %.300s", res.StatusCode, body)
		}
		if u, err = r.DB.Reader().User(ctx, setup.User.ID); err != nil || u.Name != "Ana Página" {
			t.Fatalf("after the lock: %v %v", u, err)
		}
	})
}
