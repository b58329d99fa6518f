// Command baseline is the bare limit each Roster benchmark scenario is
// measured against: the same work on the same database (a token's hash to
// a user point read, a one-row update, a page of notifications, an event
// insert, a small HTML page) with nothing of Roster's layers — no
// middleware, no policy checks, no access log. bench/run.sh runs it beside
// Roster on the same seeded database and reports Roster's figures as a
// ratio to it, which holds on a noisy machine where absolute figures do
// not.
//
//	baseline --addr 127.0.0.1:9000 --data ./roster-data   (SQLite)
//	baseline --addr 127.0.0.1:9000 --database-url postgres://...
package main

import (
	"context"
	"crypto/sha256"
	"database/sql"
	"encoding/json"
	"flag"
	"html/template"
	"log"
	"net/http"
	"path/filepath"
	"runtime"
	"strings"
	"time"

	_ "github.com/jackc/pgx/v5/stdlib"
	_ "modernc.org/sqlite"
)

type server struct {
	r, w     *sql.DB
	postgres bool
	page     *template.Template
}

func main() {
	addr := flag.String("addr", "127.0.0.1:9000", "listen address")
	data := flag.String("data", "./roster-data", "Roster's data folder (SQLite)")
	url := flag.String("database-url", "", "PostgreSQL URL instead of SQLite")
	flag.Parse()
	s := &server{page: template.Must(template.New("p").Parse(`<!doctype html><html lang="{{.Lang}}"><head><meta charset="utf-8"><title>{{.Name}}</title></head>
<body><main><h1>{{.Name}}</h1><form method="post"><input name="name" value="{{.Name}}"><input name="email" value="{{.Email}}"><input name="phone" value="{{.Phone}}"><button>Save</button></form></main></body></html>`))}
	var err error
	if *url != "" {
		s.postgres = true
		if s.r, err = sql.Open("pgx", *url); err != nil {
			log.Fatal(err)
		}
		s.r.SetMaxOpenConns(32)
		s.w = s.r
	} else {
		path := filepath.Join(*data, "roster.db")
		// The connection settings Roster uses: one writer, WAL, readers.
		if s.w, err = sql.Open("sqlite", "file:"+path+"?_pragma=journal_mode(WAL)&_pragma=busy_timeout(10000)&_pragma=synchronous(NORMAL)&_txlock=immediate"); err != nil {
			log.Fatal(err)
		}
		s.w.SetMaxOpenConns(1)
		if s.r, err = sql.Open("sqlite", "file:"+path+"?mode=ro&_pragma=busy_timeout(10000)"); err != nil {
			log.Fatal(err)
		}
		s.r.SetMaxOpenConns(max(4, runtime.NumCPU()))
	}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /api/v1/me", s.me)
	mux.HandleFunc("PATCH /api/v1/me", s.rename)
	mux.HandleFunc("GET /api/v1/me/notifications", s.notifications)
	mux.HandleFunc("POST /api/v1/events", s.event)
	mux.HandleFunc("GET /settings/profile", s.profile)
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) { _, _ = w.Write([]byte("ok\n")) })
	log.Printf("baseline on %s", *addr)
	log.Fatal((&http.Server{Addr: *addr, Handler: mux, ReadHeaderTimeout: 10 * time.Second}).ListenAndServe())
}

func (s *server) q(query string) string {
	if !s.postgres {
		return query
	}
	var b strings.Builder
	n := 0
	for _, c := range query {
		if c == '?' {
			n++
			b.WriteString("$")
			b.WriteString(itoa(n))
			continue
		}
		b.WriteRune(c)
	}
	return b.String()
}

func itoa(n int) string {
	if n < 10 {
		return string(rune('0' + n))
	}
	return itoa(n/10) + string(rune('0'+n%10))
}

type user struct {
	ID                                     int64
	Name, Email, Language, Timezone, Phone string
}

func hash(token string) []byte {
	sum := sha256.Sum256([]byte(token))
	return sum[:]
}

// byToken is the one point read: the bearer token's hash to its user.
func (s *server) byToken(ctx context.Context, r *http.Request) (*user, bool) {
	token, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
	if !ok {
		return nil, false
	}
	var u user
	err := s.r.QueryRowContext(ctx, s.q(`SELECT u.id, u.name, u.email, u.language, u.timezone, u.phone FROM api_tokens t
		JOIN users u ON u.id = t.user_id WHERE t.token_hash = ?`), hash(token)).Scan(&u.ID, &u.Name, &u.Email, &u.Language, &u.Timezone, &u.Phone)
	return &u, err == nil
}

func writeJSON(w http.ResponseWriter, v any) {
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(v)
}

func (s *server) me(w http.ResponseWriter, r *http.Request) {
	u, ok := s.byToken(r.Context(), r)
	if !ok {
		http.Error(w, "unauthorized", http.StatusUnauthorized)
		return
	}
	writeJSON(w, u)
}

func (s *server) rename(w http.ResponseWriter, r *http.Request) {
	u, ok := s.byToken(r.Context(), r)
	if !ok {
		http.Error(w, "unauthorized", http.StatusUnauthorized)
		return
	}
	var in struct{ Name string }
	if err := json.NewDecoder(http.MaxBytesReader(w, r.Body, 1<<20)).Decode(&in); err != nil || in.Name == "" {
		http.Error(w, "bad request", http.StatusBadRequest)
		return
	}
	if _, err := s.w.ExecContext(r.Context(), s.q("UPDATE users SET name = ?, updated_at = ? WHERE id = ?"), in.Name, time.Now().UnixMilli(), u.ID); err != nil {
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return
	}
	u.Name = in.Name
	writeJSON(w, u)
}

func (s *server) notifications(w http.ResponseWriter, r *http.Request) {
	u, ok := s.byToken(r.Context(), r)
	if !ok {
		http.Error(w, "unauthorized", http.StatusUnauthorized)
		return
	}
	rows, err := s.r.QueryContext(r.Context(), s.q(`SELECT id, type, title, body, created_at, read_at FROM notifications
		WHERE user_id = ? ORDER BY id DESC LIMIT 20`), u.ID)
	if err != nil {
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return
	}
	defer rows.Close()
	type item struct {
		ID          int64  `json:"id"`
		Type        string `json:"type"`
		Title, Body string
		Created     int64  `json:"created_at"`
		Read        *int64 `json:"read_at"`
	}
	items := []item{}
	for rows.Next() {
		var it item
		if err := rows.Scan(&it.ID, &it.Type, &it.Title, &it.Body, &it.Created, &it.Read); err != nil {
			http.Error(w, err.Error(), http.StatusInternalServerError)
			return
		}
		items = append(items, it)
	}
	writeJSON(w, map[string]any{"items": items})
}

func (s *server) event(w http.ResponseWriter, r *http.Request) {
	u, ok := s.byToken(r.Context(), r)
	if !ok {
		http.Error(w, "unauthorized", http.StatusUnauthorized)
		return
	}
	var in struct {
		Type string         `json:"type"`
		Data map[string]any `json:"data"`
	}
	if err := json.NewDecoder(http.MaxBytesReader(w, r.Body, 1<<20)).Decode(&in); err != nil || in.Type == "" {
		http.Error(w, "bad request", http.StatusBadRequest)
		return
	}
	data, _ := json.Marshal(in.Data)
	now := time.Now().UnixMilli()
	var id int64
	err := s.w.QueryRowContext(r.Context(), s.q(`INSERT INTO notify_events (workspace_id, type, data, recipients, occurred_at, created_at)
		SELECT workspace_id, ?, ?, '[1]', ?, ? FROM users WHERE id = ? RETURNING id`), in.Type, string(data), now, now, u.ID).Scan(&id)
	if err != nil {
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return
	}
	w.WriteHeader(http.StatusAccepted)
	writeJSON(w, map[string]any{"id": id})
}

func (s *server) profile(w http.ResponseWriter, r *http.Request) {
	c, err := r.Cookie("roster_session")
	if err != nil {
		http.Redirect(w, r, "/login", http.StatusSeeOther)
		return
	}
	var u user
	err = s.r.QueryRowContext(r.Context(), s.q(`SELECT u.id, u.name, u.email, u.language, u.timezone, u.phone FROM sessions x
		JOIN users u ON u.id = x.user_id WHERE x.token_hash = ?`), hash(c.Value)).Scan(&u.ID, &u.Name, &u.Email, &u.Language, &u.Timezone, &u.Phone)
	if err != nil {
		http.Redirect(w, r, "/login", http.StatusSeeOther)
		return
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	_ = s.page.Execute(w, map[string]any{"Lang": u.Language, "Name": u.Name, "Email": u.Email, "Phone": u.Phone})
}
