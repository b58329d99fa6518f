package api

import (
	"bufio"
	"context"
	"crypto/sha256"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"roster/internal/core"
	"roster/internal/notify"
	"roster/internal/store"
	"roster/internal/store/storetest"
)

// apiToken returns a new API token of u.
func (e *env) apiToken(u *core.User) string {
	e.t.Helper()
	tok, _, err := e.auth.CreateAPIToken(context.Background(), u, "CRM", 30*24*time.Hour)
	if err != nil {
		e.t.Fatal(err)
	}
	return tok
}

// countPosted counts the events integrations posted (sign-ins add
// security notices of their own).
func (e *env) countPosted() int {
	e.t.Helper()
	var n int
	if err := e.db.R.QueryRow("SELECT COUNT(*) FROM notify_events WHERE type NOT LIKE 'security.%'").Scan(&n); err != nil {
		e.t.Fatal(err)
	}
	return n
}

func TestEventTypesInTheCallersLanguage(t *testing.T) {
	e := newEnv(t, storetest.Open(t, store.SQLite), envOpts{deps: roomy})
	tok := e.apiToken(e.admin)
	var body struct {
		Items []EventType `json:"items"`
	}
	r := e.do("GET", "/event-types", "", bearer(tok)).status(http.StatusOK)
	if err := json.Unmarshal(r.body, &body); err != nil {
		t.Fatal(err)
	}
	byKey := map[string]EventType{}
	for _, it := range body.Items {
		byKey[it.Key] = it
	}
	lead := byKey["lead.incoming"]
	if lead.Name != "New lead in Incoming leads" || lead.Category != "leads" || lead.Mandatory {
		t.Fatalf("lead.incoming: %+v", lead)
	}
	fields := map[string]EventTypeField{}
	for _, f := range lead.Data {
		fields[f.Name] = f
	}
	if !fields["title"].Required || fields["url"].Required || fields["source"].Type != "enum" || len(fields["source"].Values) != 4 {
		t.Fatalf("lead.incoming data: %+v", lead.Data)
	}
	if sec := byKey["security.new_device"]; !sec.Mandatory || sec.Category != "security" {
		t.Fatalf("security.new_device: %+v", sec)
	}
	// In Spanish for a Spanish reader.
	e.update(e.admin, func(u *core.User) { u.Language = "es" })
	r = e.do("GET", "/event-types", "", bearer(tok)).status(http.StatusOK)
	if strings.Contains(string(r.body), "New lead in Incoming leads") {
		t.Fatalf("names not translated: %s", r.body[:200])
	}
}

func TestNotificationSettingsAPI(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		e := newEnv(t, db, envOpts{deps: roomy})
		bob := e.user("Acme", "Bob", "bob@example.com", core.RoleUser)
		tok := e.login(bob.Email)
		m := e.do("GET", "/me/notification-settings", "", bearer(tok)).status(http.StatusOK).json()
		if m["receive"] != true || m["email_timing"] != "instant" || m["digest_time"] != "09:00" {
			t.Fatalf("defaults: %v", m)
		}
		chans := m["channels"].([]any)
		if first := chans[0].(map[string]any); first["channel"] != "in_app" || first["usable"] != true {
			t.Fatalf("in-app channel: %v", first)
		}
		if tg := chans[4].(map[string]any); tg["usable"] != false || tg["reason"] != "not_configured" || tg["hint"] == "" {
			t.Fatalf("telegram: %v", tg)
		}
		// Each refusal is 422 at its field and changes nothing.
		for body, loc := range map[string]string{
			`{"receive":false,"types":{"security.password_changed":{"email":false}}}`: "body.types.security.password_changed.email",
			`{"receive":false,"types":{"deal.won":{"email":true}}}`:                   "body.types.deal.won",
			`{"receive":false,"types":{"mention":{"fax":true}}}`:                      "body.types.mention.fax",
			`{"receive":false,"types":{"mention":{"in_app":false}}}`:                  "body.types.mention.in_app",
			`{"receive":false,"digest_time":"7pm"}`:                                   "body.digest_time",
			`{"receive":false,"quiet_hours":[{"day":1,"from":"22:00","to":"7:00"}]}`:  "body.quiet_hours[0]",
			`{"receive":false,"quiet_hours":[{"day":1,"from":"22:00","to":"22:00"}]}`: "body.quiet_hours[0]",
			`{"receive":false,"paused_until":"tomorrow"}`:                             "body.paused_until",
			`{"receive":false,"paused_until":"2001-01-01T00:00:00Z"}`:                 "body.paused_until",
		} {
			p := e.do("PUT", "/me/notification-settings", body, bearer(tok)).problem(http.StatusUnprocessableEntity)
			if len(p.Errors) != 1 || p.Errors[0].Location != loc {
				t.Errorf("%s: errors %+v, want one at %s", body, p.Errors, loc)
			}
		}
		if m := e.do("GET", "/me/notification-settings", "", bearer(tok)).json(); m["receive"] != true {
			t.Fatal("a refused PUT changed the master switch")
		}
		until := time.Now().Add(time.Hour).UTC().Truncate(time.Second).Format(time.RFC3339)
		m = e.do("PUT", "/me/notification-settings", `{"quiet_hours":[{"day":5,"from":"22:00","to":"07:00"}],"paused_until":"`+until+`"}`,
			bearer(tok)).status(http.StatusOK).json()
		if fmt.Sprint(m["quiet_hours"]) != "[map[day:5 from:22:00 to:07:00]]" || m["paused_until"] != until {
			t.Errorf("quiet hours %v, paused until %v (want %s)", m["quiet_hours"], m["paused_until"], until)
		}
		m = e.do("PUT", "/me/notification-settings", `{"quiet_hours":[],"paused_until":""}`, bearer(tok)).status(http.StatusOK).json()
		if fmt.Sprint(m["quiet_hours"]) != "[]" || m["paused_until"] != nil {
			t.Errorf("after clearing: quiet hours %v, paused until %v", m["quiet_hours"], m["paused_until"])
		}
		m = e.do("PUT", "/me/notification-settings", `{"receive":false,"email_timing":"daily","digest_time":"18:00","types":{"mention":{"email":false}}}`,
			bearer(tok)).status(http.StatusOK).json()
		if m["receive"] != false || m["digest_time"] != "18:00" || m["types"].(map[string]any)["mention"].(map[string]any)["email"] != false {
			t.Fatalf("after PUT: %v", m)
		}
		// Workspace defaults are for admins.
		e.do("PUT", "/workspace/notification-defaults", `{"types":{"mention":{"email":false}}}`, bearer(tok)).problem(http.StatusForbidden)
		admin := e.login(e.admin.Email)
		d := e.do("PUT", "/workspace/notification-defaults", `{"types":{"chat.group":{"email":true}}}`, bearer(admin)).status(http.StatusOK).json()
		if d["types"].(map[string]any)["chat.group"].(map[string]any)["email"] != true {
			t.Fatalf("defaults: %v", d)
		}
		if m := e.do("GET", "/me/notification-settings", "", bearer(tok)).json(); m["types"].(map[string]any)["chat.group"].(map[string]any)["email"] != true {
			t.Fatal("Bob does not follow the new default")
		}
	})
}

func TestEventIntakeIdempotency(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		e := newEnv(t, db, envOpts{deps: roomy})
		bob := e.user("Acme", "Bob", "bob@example.com", core.RoleUser)
		tok := e.apiToken(e.admin)
		body := fmt.Sprintf(`{"type":"call.missed","recipients":[%d],"data":{"title":"+1 555 0100","url":"https://crm.example/calls/9"}}`, bob.ID)
		first := e.do("POST", "/events", body, bearer(tok), header("Idempotency-Key", "k-1")).status(http.StatusAccepted)
		again := e.do("POST", "/events", body, bearer(tok), header("Idempotency-Key", "k-1")).status(http.StatusAccepted)
		if string(first.body) != string(again.body) || e.countPosted() != 1 {
			t.Fatalf("same key twice: %s then %s, %d events", first.body, again.body, e.countPosted())
		}
		other := strings.Replace(body, "0100", "0101", 1)
		e.do("POST", "/events", other, bearer(tok), header("Idempotency-Key", "k-1")).problem(http.StatusUnprocessableEntity)
		// A key whose first request is still running: 409.
		sum := sha256.Sum256([]byte(other))
		if claimed, _, err := db.Writer().ClaimIdempotencyKey(context.Background(), e.admin.WorkspaceID, "k-2", sum[:], time.Hour, time.Hour); err != nil || !claimed {
			t.Fatalf("claim: %v %v", claimed, err)
		}
		e.do("POST", "/events", other, bearer(tok), header("Idempotency-Key", "k-2")).problem(http.StatusConflict)
		if e.countPosted() != 1 {
			t.Fatal("a refused request created an event")
		}
		// A refused event frees its key and creates nothing.
		bad := `{"type":"call.missed","recipients":[999999],"data":{"title":"x"}}`
		p := e.do("POST", "/events", bad, bearer(tok), header("Idempotency-Key", "k-3")).problem(http.StatusUnprocessableEntity)
		if p.Errors[0].Location != "body.recipients[0]" {
			t.Fatalf("errors: %+v", p.Errors)
		}
		e.do("POST", "/events", `{"type":"call.missed","recipients":"some","data":{"title":"x"}}`, bearer(tok)).problem(http.StatusUnprocessableEntity)
		// A session, even an admin's, does not post events.
		e.do("POST", "/events", body, bearer(e.login(e.admin.Email))).problem(http.StatusForbidden)
		e.do("POST", "/events", `{"type":"call.missed","recipients":"all","data":{"title":"x","url":"javascript:alert(1)"}}`, bearer(tok)).problem(http.StatusUnprocessableEntity)
		if e.countPosted() != 1 {
			t.Fatal("refused events were stored")
		}
		// Batch: all or nothing, per-item errors.
		batch := fmt.Sprintf(`{"events":[{"type":"mention","recipients":[%d],"data":{"title":"Deal","from":"Ada"}},{"type":"mention","recipients":"all","data":{"title":"Deal"}}]}`, bob.ID)
		p = e.do("POST", "/events:batch", batch, bearer(tok)).problem(http.StatusUnprocessableEntity)
		if len(p.Errors) != 1 || p.Errors[0].Location != "body.events[1].data.from" {
			t.Fatalf("batch errors: %+v", p.Errors)
		}
		ok := strings.Replace(batch, `"title":"Deal"}}]`, `"title":"Deal","from":"Ada"}}]`, 1)
		m := e.do("POST", "/events:batch", ok, bearer(tok)).status(http.StatusAccepted).json()
		if items := m["items"].([]any); len(items) != 2 || e.countPosted() != 3 {
			t.Fatalf("batch: %v, %d events", m, e.countPosted())
		}
	})
}

// readEvent reads one SSE event (skipping comments).
func readEvent(t testing.TB, r *bufio.Reader) (id, name, data string) {
	t.Helper()
	for {
		line, err := r.ReadString('\n')
		if err != nil {
			t.Fatalf("stream: %v", err)
		}
		line = strings.TrimRight(line, "\n")
		switch {
		case line == "" && name != "":
			return id, name, data
		case strings.HasPrefix(line, "id: "):
			id = line[4:]
		case strings.HasPrefix(line, "event: "):
			name = line[7:]
		case strings.HasPrefix(line, "data: "):
			data = line[6:]
		}
	}
}

// openHelloStream opens a notification stream with tok, closed when the
// test ends, and reads its hello.
func (e *env) openHelloStream(tok string) *bufio.Reader {
	e.t.Helper()
	req, _ := http.NewRequest("GET", e.srv.URL+Prefix+"/me/notifications/stream", nil)
	req.Header.Set("Authorization", "Bearer "+tok)
	res, err := e.srv.Client().Do(req)
	if err != nil || res.StatusCode != http.StatusOK {
		e.t.Fatalf("stream: %v %v", res, err)
	}
	e.t.Cleanup(func() { res.Body.Close() })
	r := bufio.NewReader(res.Body)
	if _, name, _ := readEvent(e.t, r); name != "hello" {
		e.t.Fatalf("first event %s", name)
	}
	return r
}

func TestNotificationStreamResumes(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		e := newEnv(t, db, envOpts{deps: roomy})
		bob := e.user("Acme", "Bob", "bob@example.com", core.RoleUser)
		tok := e.login(bob.Email)
		ctx := context.Background()
		post := func(title string) {
			t.Helper()
			acc, err := e.notify.Intake(ctx, e.admin, []notify.EventInput{{Type: "system.report", Recipients: []int64{bob.ID}, Data: map[string]any{"title": title}}})
			if err != nil {
				t.Fatal(err)
			}
			if err := e.notify.Fanout(ctx, acc[0].ID); err != nil {
				t.Fatal(err)
			}
		}
		open := func(last string) (*bufio.Reader, func()) {
			t.Helper()
			req, _ := http.NewRequest("GET", e.srv.URL+Prefix+"/me/notifications/stream", nil)
			req.Header.Set("Authorization", "Bearer "+tok)
			if last != "" {
				req.Header.Set("Last-Event-ID", last)
			}
			res, err := e.srv.Client().Do(req)
			if err != nil || res.StatusCode != http.StatusOK || !strings.HasPrefix(res.Header.Get("Content-Type"), "text/event-stream") {
				t.Fatalf("stream: %v %v", res, err)
			}
			return bufio.NewReader(res.Body), func() { res.Body.Close() }
		}
		post("R0")
		r, closeIt := open("")
		_, name, data := readEvent(t, r)
		if name != "hello" || !strings.Contains(data, `"unread":1`) {
			t.Fatalf("first event %s %s", name, data)
		}
		post("R1") // made after the stream opened: it arrives
		id1, name, data := readEvent(t, r)
		if name != "new" || !strings.Contains(data, `"unread":2`) || !strings.Contains(data, "R1") {
			t.Fatalf("new event %s %s", name, data)
		}
		closeIt()
		// Missed while away: two new and a read; resume after id1.
		post("R2")
		post("R3")
		if err := e.notify.ReadAll(ctx, bob); err != nil {
			t.Fatal(err)
		}
		r, closeIt = open(id1)
		defer closeIt()
		var got []string
		for range 3 {
			_, name, data := readEvent(t, r)
			got = append(got, name+":"+data[strings.Index(data, `"unread"`):strings.Index(data, `"unread"`)+10])
		}
		want := `[new:"unread":3 new:"unread":4 read_all:"unread":0]`
		if fmt.Sprint(got) != want {
			t.Fatalf("resumed %v, want %s", got, want)
		}
		// The limit of streams per person: the eleventh is refused.
		var closers []func()
		for range 9 {
			_, c := open("")
			closers = append(closers, c)
		}
		req, _ := http.NewRequest("GET", e.srv.URL+Prefix+"/me/notifications/stream", nil)
		req.Header.Set("Authorization", "Bearer "+tok)
		res, err := e.srv.Client().Do(req)
		if err != nil || res.StatusCode != http.StatusTooManyRequests {
			t.Fatalf("eleventh stream: %v %v", res.StatusCode, err)
		}
		res.Body.Close()
		for _, c := range closers {
			c()
		}
	})
}

func TestDeliveriesForAdminsInTheirWorkspace(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		e := newEnv(t, db, envOpts{deps: roomy})
		bob := e.user("Acme", "Bob", "bob@example.com", core.RoleUser)
		ctx := context.Background()
		// A user of another workspace: their id is 404 to this admin.
		ws := &core.Workspace{Name: "Globex", Timezone: "UTC", Language: "en", Country: "US"}
		gus := &core.User{Name: "Gus", Email: "gus@example.com", Language: "en", Timezone: "UTC", Role: core.RoleUser, State: core.StateActive, PasswordHash: "x"}
		if err := db.InTx(ctx, func(q *store.Q) error {
			if err := q.CreateWorkspace(ctx, ws); err != nil {
				return err
			}
			gus.WorkspaceID = ws.ID
			return q.CreateUser(ctx, gus)
		}); err != nil {
			t.Fatal(err)
		}
		acc, err := e.notify.Intake(ctx, e.admin, []notify.EventInput{{Type: "mention", Recipients: []int64{bob.ID}, Data: map[string]any{"title": "Deal", "from": "Ada"}}})
		if err != nil {
			t.Fatal(err)
		}
		if err := e.notify.Fanout(ctx, acc[0].ID); err != nil {
			t.Fatal(err)
		}
		admin := e.login(e.admin.Email)
		m := e.do("GET", fmt.Sprintf("/users/%d/deliveries", bob.ID), "", bearer(admin)).status(http.StatusOK).json()
		items := m["items"].([]any)
		if len(items) != 4 {
			t.Fatalf("deliveries: %v", m)
		}
		for _, it := range items {
			d := it.(map[string]any)
			if d["status"] != "skipped" || d["reason"] != "channel_unavailable" {
				t.Fatalf("delivery without adapters: %v", d)
			}
		}
		e.do("GET", fmt.Sprintf("/users/%d/deliveries", bob.ID), "", bearer(e.login(bob.Email))).problem(http.StatusForbidden)
		e.do("GET", "/users/999999/deliveries", "", bearer(admin)).problem(http.StatusNotFound)
		e.do("GET", fmt.Sprintf("/users/%d/deliveries", gus.ID), "", bearer(admin)).problem(http.StatusNotFound)

		// The workspace's log, its filters, and a retry of a failed one.
		first := int64(items[len(items)-1].(map[string]any)["id"].(float64))
		if _, err := db.W.Exec(db.Rebind("UPDATE notify_deliveries SET status = 'failed', reason = '', last_error = '550 no such user' WHERE id = ?"), first); err != nil {
			t.Fatal(err)
		}
		m = e.do("GET", fmt.Sprintf("/deliveries?status=failed&user_id=%d", bob.ID), "", bearer(admin)).status(http.StatusOK).json()
		if items := m["items"].([]any); len(items) != 1 || items[0].(map[string]any)["user_name"] != "Bob" ||
			items[0].(map[string]any)["last_error"] != "550 no such user" || items[0].(map[string]any)["type"] != "mention" {
			t.Fatalf("failed deliveries: %v", m)
		}
		e.do("GET", "/deliveries?status=lost", "", bearer(admin)).problem(http.StatusUnprocessableEntity)
		e.do("GET", fmt.Sprintf("/deliveries?user_id=%d", gus.ID), "", bearer(admin)).problem(http.StatusNotFound)
		e.do("GET", "/deliveries", "", bearer(e.login(bob.Email))).problem(http.StatusForbidden)
		e.do("POST", fmt.Sprintf("/deliveries/%d/retry", first), "", bearer(e.login(bob.Email))).problem(http.StatusForbidden)
		if m := e.do("POST", fmt.Sprintf("/deliveries/%d/retry", first), "", bearer(admin)).status(http.StatusOK).json(); m["status"] != "queued" {
			t.Fatalf("retry: %v", m)
		}
		e.do("POST", fmt.Sprintf("/deliveries/%d/retry", first), "", bearer(admin)).problem(http.StatusConflict)
		e.do("POST", "/deliveries/999999/retry", "", bearer(admin)).problem(http.StatusNotFound)

		// Bob sees where his notification went; nobody else does.
		bobToken := e.login(bob.Email)
		list := e.do("GET", "/me/notifications", "", bearer(bobToken)).status(http.StatusOK).json()
		nid := int64(list["items"].([]any)[0].(map[string]any)["id"].(float64))
		m = e.do("GET", fmt.Sprintf("/me/notifications/%d/deliveries", nid), "", bearer(bobToken)).status(http.StatusOK).json()
		if len(m["items"].([]any)) != 4 {
			t.Fatalf("Bob's notification's deliveries: %v", m)
		}
		e.do("GET", fmt.Sprintf("/me/notifications/%d/deliveries", nid), "", bearer(admin)).problem(http.StatusNotFound)
	})
}

// TestStreamEndsWhenTheSessionDoes: a stream stops once its session is
// signed out, at the next heartbeat.
func TestStreamEndsWhenTheSessionDoes(t *testing.T) {
	e := newEnv(t, storetest.Open(t, store.SQLite), envOpts{deps: roomy})
	bob := e.user("Acme", "Bob", "bob@example.com", core.RoleUser)
	tok := e.login(bob.Email)
	defer func(d time.Duration) { StreamHeartbeat = d }(StreamHeartbeat)
	StreamHeartbeat = 50 * time.Millisecond
	r := e.openHelloStream(tok)
	e.do("POST", "/auth/logout", "", bearer(tok)).status(http.StatusNoContent)
	ended := make(chan error, 1)
	go func() {
		for {
			if _, err := r.ReadString('\n'); err != nil {
				ended <- err
				return
			}
		}
	}()
	select {
	case <-ended:
	case <-time.After(5 * time.Second):
		t.Fatal("the stream outlived its session")
	}
}
