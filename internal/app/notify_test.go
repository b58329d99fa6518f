package app_test

import (
	"bufio"
	"context"
	"crypto/rand"
	"encoding/base64"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"roster/internal/account"
	"roster/internal/app"
	"roster/internal/store"
	"roster/internal/testenv"
)

// sse opens the notification stream of token on r and returns a channel
// of "event data" lines.
func sse(t *testing.T, r *running, token string) <-chan string {
	t.Helper()
	req, _ := http.NewRequest("GET", r.URL+"/api/v1/me/notifications/stream", nil)
	req.Header.Set("Authorization", "Bearer "+token)
	res, err := (&http.Client{}).Do(req)
	if err != nil || res.StatusCode != http.StatusOK {
		t.Fatalf("stream: %v %v", res, err)
	}
	out := make(chan string, 100)
	go func() {
		defer res.Body.Close()
		defer close(out)
		br := bufio.NewReader(res.Body)
		var name string
		for {
			line, err := br.ReadString('\n')
			if err != nil {
				return
			}
			line = strings.TrimSpace(line)
			switch {
			case strings.HasPrefix(line, "event: "):
				name = line[7:]
			case strings.HasPrefix(line, "data: "):
				out <- name + " " + line[6:]
			}
		}
	}()
	t.Cleanup(func() { _ = res.Body.Close() })
	return out
}

func next(t *testing.T, c <-chan string, within time.Duration) string {
	t.Helper()
	select {
	case s, ok := <-c:
		if !ok {
			t.Fatal("stream closed")
		}
		return s
	case <-time.After(within):
		t.Fatalf("no stream event within %v", within)
	}
	return ""
}

func postEvent(t *testing.T, r *running, token, body string) {
	t.Helper()
	req, _ := http.NewRequest("POST", r.URL+"/api/v1/events", strings.NewReader(body))
	req.Header.Set("Authorization", "Bearer "+token)
	req.Header.Set("Content-Type", "application/json")
	res, err := (&http.Client{}).Do(req)
	if err != nil || res.StatusCode != http.StatusAccepted {
		t.Fatalf("post event: %v %v", res, err)
	}
	res.Body.Close()
}

// TestEventReachesAnOpenStream: an event posted through the API goes
// through the real job queue (fan-out) and reaches a stream opened before
// it, on both engines.
func TestEventReachesAnOpenStream(t *testing.T) {
	each(t, func(t *testing.T, engine store.Engine) {
		ctx := context.Background()
		r := start(t, engine, app.Config{})
		setup, err := r.Accounts.Setup(ctx, account.SetupInput{Workspace: "Acme", Name: "Ana", Email: "ana@example.com", Password: "tangerine-violin", Timezone: "UTC", Language: "en"})
		if err != nil {
			t.Fatal(err)
		}
		token, _, err := r.Auth.CreateAPIToken(ctx, setup.User, "CRM", 30*24*time.Hour)
		if err != nil {
			t.Fatal(err)
		}
		events := sse(t, r, token)
		if got := next(t, events, 5*time.Second); !strings.HasPrefix(got, "hello ") {
			t.Fatalf("first: %s", got)
		}
		postEvent(t, r, token, fmt.Sprintf(`{"type":"lead.incoming","recipients":[%d],"data":{"title":"Globex","source":"form"}}`, setup.User.ID))
		got := next(t, events, 10*time.Second)
		if !strings.HasPrefix(got, "new ") || !strings.Contains(got, "New lead: Globex") || !strings.Contains(got, `"unread":1`) {
			t.Fatalf("event: %s", got)
		}
	})
}

// TestStreamsAcrossInstances: two instances on one PostgreSQL database; a
// notification made on one reaches a stream held by the other, and a read
// on the other reaches the first.
func TestStreamsAcrossInstances(t *testing.T) {
	ctx := context.Background()
	dbURL := testenv.FreshPostgres(t)
	key := make([]byte, 32)
	if _, err := rand.Read(key); err != nil {
		t.Fatal(err)
	}
	cfg := app.Config{DatabaseURL: dbURL, SecretKey: base64.StdEncoding.EncodeToString(key)}
	a, b := start(t, "", cfg), start(t, "", cfg)
	setup, err := a.Accounts.Setup(ctx, account.SetupInput{Workspace: "Acme", Name: "Ana", Email: "ana@example.com", Password: "tangerine-violin", Timezone: "UTC", Language: "en"})
	if err != nil {
		t.Fatal(err)
	}
	token, _, err := a.Auth.CreateAPIToken(ctx, setup.User, "CRM", 30*24*time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	onA, onB := sse(t, a, token), sse(t, b, token)
	next(t, onA, 5*time.Second)
	next(t, onB, 5*time.Second)
	postEvent(t, a, token, fmt.Sprintf(`{"type":"call.missed","recipients":[%d],"data":{"title":"+1 555 0100"}}`, setup.User.ID))
	for name, c := range map[string]<-chan string{"A": onA, "B": onB} {
		if got := next(t, c, 10*time.Second); !strings.HasPrefix(got, "new ") || !strings.Contains(got, "+1 555 0100") {
			t.Fatalf("stream on %s: %s", name, got)
		}
	}
	// Read on B: A's stream hears it.
	req, _ := http.NewRequest("POST", b.URL+"/api/v1/me/notifications/read-all", nil)
	req.Header.Set("Authorization", "Bearer "+token)
	res, err := (&http.Client{}).Do(req)
	if err != nil || res.StatusCode != http.StatusOK {
		t.Fatalf("read all: %v %v", res, err)
	}
	res.Body.Close()
	if got := next(t, onA, 5*time.Second); !strings.HasPrefix(got, "read_all ") || !strings.Contains(got, `"unread":0`) {
		t.Fatalf("A after a read on B: %s", got)
	}
}

// TestShutdownClosesStreams: an open stream does not hold up shutdown.
func TestShutdownClosesStreams(t *testing.T) {
	ctx := context.Background()
	r := start(t, store.SQLite, app.Config{ShutdownTimeout: 20 * time.Second})
	setup, err := r.Accounts.Setup(ctx, account.SetupInput{Workspace: "Acme", Name: "Ana", Email: "ana@example.com", Password: "tangerine-violin", Timezone: "UTC", Language: "en"})
	if err != nil {
		t.Fatal(err)
	}
	token, _, err := r.Auth.CreateAPIToken(ctx, setup.User, "CRM", 30*24*time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	events := sse(t, r, token)
	next(t, events, 5*time.Second)
	began := time.Now()
	r.shutdown(t)
	if took := time.Since(began); took > 5*time.Second {
		t.Fatalf("shutdown took %v with a stream open", took)
	}
	select {
	case _, ok := <-events:
		if ok {
			t.Fatal("the stream sent more after shutdown")
		}
	case <-time.After(5 * time.Second):
		t.Fatal("the stream was not closed at shutdown")
	}
}
