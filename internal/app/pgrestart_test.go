package app_test

import (
	"bytes"
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	_ "github.com/jackc/pgx/v5/stdlib"

	"roster/internal/app"
	"roster/internal/seed"
	"roster/internal/testenv"
)

// TestPostgresRestartUnderLoad: PostgreSQL goes away under load (every
// connection cut, new ones refused for three seconds, as in a restart)
// and comes back. Meanwhile every answer is 200 or a clean 503 with
// Retry-After, none hangs, and the browser keeps its session (a page
// answers 503; the cookie is not cleared, which would sign the person
// out). Afterwards the instance answers again by itself, and every name
// acknowledged is in the database. It found 500s where 503s belong, the
// page clearing the cookie, and requests hanging after the restart: the
// listeners took the small pool back first and database/sql's opens
// waited inside it for good (store's minPoolConns, poolReserved).
func TestPostgresRestartUnderLoad(t *testing.T) {
	ctx := context.Background()
	direct := testenv.FreshPostgres(t)
	u, err := url.Parse(direct)
	if err != nil {
		t.Fatal(err)
	}
	proxy := newCutProxy(t, u.Host)
	viaProxy := *u
	viaProxy.Host = proxy.addr()
	logs := &syncBuffer{}
	r := startLogged(t, "", app.Config{DatabaseURL: viaProxy.String(), APIRate: 1e6, APIBurst: 1_000_000},
		slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelError})))
	var creds bytes.Buffer
	if _, err := seed.Seed(ctx, r.DB, seed.Config{Workspaces: 1, UsersPerWorkspace: 9, Password: "restart-password-1",
		Credentials: &creds}); err != nil {
		t.Fatal(err)
	}
	var people []seed.Credential
	for dec := json.NewDecoder(&creds); dec.More(); {
		var c seed.Credential
		if err := dec.Decode(&c); err != nil {
			t.Fatal(err)
		}
		people = append(people, c)
	}
	client := &http.Client{Timeout: 30 * time.Second}
	var mu sync.Mutex
	statuses := map[int]int{}
	var slowest time.Duration
	var cleared atomic.Bool
	note := func(status int, took time.Duration) {
		mu.Lock()
		defer mu.Unlock()
		statuses[status]++
		slowest = max(slowest, took)
	}
	acked := make([]atomic.Int64, len(people))
	inFlight := make([]atomic.Int64, len(people)) // unix ns the current request began
	stop := make(chan struct{})
	var wg sync.WaitGroup
	for i, p := range people[1:] {
		wg.Go(func() {
			for n := int64(1); ; n++ {
				select {
				case <-stop:
					return
				default:
				}
				body := fmt.Sprintf(`{"name":"Writer %d %d"}`, i, n)
				req, _ := http.NewRequest(http.MethodPatch, r.URL+"/api/v1/me", strings.NewReader(body))
				req.Header.Set("Authorization", "Bearer "+p.APIToken)
				req.Header.Set("Content-Type", "application/json")
				start := time.Now()
				inFlight[i+1].Store(start.UnixNano())
				res, err := client.Do(req)
				if err != nil {
					t.Errorf("PATCH: %v", err)
					return
				}
				_, _ = io.Copy(io.Discard, res.Body)
				res.Body.Close()
				note(res.StatusCode, time.Since(start))
				switch res.StatusCode {
				case http.StatusOK:
					acked[i+1].Store(n)
				case http.StatusServiceUnavailable:
					if res.Header.Get("Retry-After") == "" {
						t.Errorf("503 without Retry-After")
					}
					time.Sleep(50 * time.Millisecond)
				}
			}
		})
	}
	// A browser reading the profile page the whole time.
	wg.Go(func() {
		for {
			select {
			case <-stop:
				return
			default:
			}
			req, _ := http.NewRequest(http.MethodGet, r.URL+"/settings/profile", nil)
			req.AddCookie(&http.Cookie{Name: "roster_session", Value: people[0].Session})
			start := time.Now()
			res, err := noRedirects.Do(req)
			if err != nil {
				t.Errorf("page: %v", err)
				return
			}
			_, _ = io.Copy(io.Discard, res.Body)
			res.Body.Close()
			note(res.StatusCode, time.Since(start))
			for _, c := range res.Cookies() {
				if c.Name == "roster_session" && c.MaxAge < 0 {
					cleared.Store(true)
				}
			}
			time.Sleep(20 * time.Millisecond)
		}
	})
	time.Sleep(time.Second)
	cutAt := time.Now()
	proxy.cut(3 * time.Second)
	// Back: every writer gets a 200 again by itself.
	restored := time.Now()
	mark := make([]int64, len(people))
	for i := range people {
		mark[i] = acked[i].Load()
	}
	back := func() bool {
		for i := 1; i < len(people); i++ {
			if acked[i].Load() <= mark[i] {
				return false
			}
		}
		return true
	}
	for deadline := time.Now().Add(10 * time.Second); !back(); time.Sleep(10 * time.Millisecond) {
		if time.Now().After(deadline) {
			var stuck []string
			for i := 1; i < len(people); i++ {
				if acked[i].Load() <= mark[i] {
					stuck = append(stuck, fmt.Sprintf("writer %d: request in flight for %s (the cut began %s ago)", i-1,
						time.Since(time.Unix(0, inFlight[i].Load())).Round(time.Millisecond), time.Since(cutAt).Round(time.Millisecond)))
				}
			}
			t.Fatalf("not every writer answered again within 10 s of the restart: %v", stuck)
		}
	}
	recovered := time.Since(restored)
	close(stop)
	wg.Wait()
	mu.Lock()
	defer mu.Unlock()
	t.Logf("answers %v; slowest %s; writers all back %s after the database", statuses, slowest, recovered)
	for status := range statuses {
		if status != http.StatusOK && status != http.StatusServiceUnavailable {
			t.Errorf("answers %v: %d is neither 200 nor 503; errors logged:\n%.3000s", statuses, status, logs.String())
		}
	}
	if statuses[http.StatusServiceUnavailable] == 0 {
		t.Errorf("answers %v: the outage was not seen", statuses)
	}
	if slowest > 15*time.Second {
		t.Errorf("a request took %s", slowest)
	}
	if cleared.Load() {
		t.Error("the page cleared the session cookie while the database was away")
	}
	// Every acknowledged name is there (or a later one, whose answer the
	// cut lost after the commit).
	db, err := sql.Open("pgx", direct)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	for i := 1; i < len(people); i++ {
		var name string
		if err := db.QueryRowContext(ctx, "SELECT name FROM users WHERE id = $1", people[i].UserID).Scan(&name); err != nil {
			t.Fatal(err)
		}
		var w, n int64
		if _, err := fmt.Sscanf(name, "Writer %d %d", &w, &n); err != nil || w != int64(i-1) || n < acked[i].Load() {
			t.Errorf("writer %d: %q in the database, %d acknowledged", i-1, name, acked[i].Load())
		}
	}
}

// cutProxy forwards TCP to the database and can cut it: every open
// connection closed and new ones refused for a while, as a restart does.
type cutProxy struct {
	ln       net.Listener
	upstream string
	mu       sync.Mutex
	conns    map[net.Conn]struct{}
	down     bool
}

func newCutProxy(t *testing.T, upstream string) *cutProxy {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p := &cutProxy{ln: ln, upstream: upstream, conns: map[net.Conn]struct{}{}}
	t.Cleanup(func() { ln.Close(); p.closeAll() })
	go p.serve()
	return p
}

func (p *cutProxy) addr() string { return p.ln.Addr().String() }

func (p *cutProxy) serve() {
	for {
		c, err := p.ln.Accept()
		if err != nil {
			return
		}
		p.mu.Lock()
		down := p.down
		p.mu.Unlock()
		if down {
			c.Close()
			continue
		}
		go p.forward(c)
	}
}

func (p *cutProxy) forward(c net.Conn) {
	up, err := net.Dial("tcp", p.upstream)
	if err != nil {
		c.Close()
		return
	}
	p.mu.Lock()
	if p.down {
		p.mu.Unlock()
		c.Close()
		up.Close()
		return
	}
	p.conns[c], p.conns[up] = struct{}{}, struct{}{}
	p.mu.Unlock()
	done := make(chan struct{}, 2)
	go func() { _, _ = io.Copy(up, c); done <- struct{}{} }()
	go func() { _, _ = io.Copy(c, up); done <- struct{}{} }()
	<-done
	c.Close()
	up.Close()
	p.mu.Lock()
	delete(p.conns, c)
	delete(p.conns, up)
	p.mu.Unlock()
}

func (p *cutProxy) closeAll() {
	p.mu.Lock()
	defer p.mu.Unlock()
	for c := range p.conns {
		c.Close()
	}
}

// cut closes every connection and refuses new ones for d.
func (p *cutProxy) cut(d time.Duration) {
	p.mu.Lock()
	p.down = true
	p.mu.Unlock()
	p.closeAll()
	time.Sleep(d)
	p.mu.Lock()
	p.down = false
	p.mu.Unlock()
}
