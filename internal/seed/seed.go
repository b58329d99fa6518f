// Package seed fills a Roster database with realistic data for benchmarks
// and demos: workspaces of people in the six languages with phones, time
// zones and settings, notifications in each person's language, and an API
// token and a session per person for a load generator. It writes people
// with multi-row inserts and has the database make their notifications
// (INSERT … SELECT), in one transaction per workspace, and hashes the one
// password once, so a hundred thousand people take seconds, not hours.
package seed

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"runtime"
	"slices"
	"sync"
	"time"

	"golang.org/x/sync/errgroup"

	"roster/internal/auth"
	"roster/internal/core"
	"roster/internal/i18n"
	"roster/internal/notify"
	"roster/internal/store"
)

// Config says how much to make.
type Config struct {
	Workspaces           int
	UsersPerWorkspace    int // the first of each is its admin
	NotificationsPerUser int
	Password             string // every seeded person's
	// Credentials receives one JSON line per person: user_id, email,
	// workspace_id, api_token, session (the cookie's value). nil: none.
	Credentials io.Writer
	Now         func() time.Time // nil: time.Now
}

// Credential is one line of the credentials file.
type Credential struct {
	UserID      int64  `json:"user_id"`
	WorkspaceID int64  `json:"workspace_id"`
	Email       string `json:"email"`
	Admin       bool   `json:"admin,omitempty"`
	APIToken    string `json:"api_token"`
	Session     string `json:"session"`
}

// Result counts what was made.
type Result struct {
	Workspaces, Users, Notifications int
}

// ErrNotEmpty refuses to seed a database that already has workspaces.
var ErrNotEmpty = errors.New("seed: the database already has workspaces; seed an empty one")

type people struct {
	lang, country, phonePrefix string
	zones                      []string
	first, last                []string
}

// cast gives each language its names, country, phones and zones.
var cast = []people{
	{"en", "US", "+1202555", []string{"America/New_York", "America/Chicago", "America/Los_Angeles", "Europe/London"},
		[]string{"Olivia", "Liam", "Emma", "Noah", "Ava", "James", "Sophia", "William"}, []string{"Smith", "Johnson", "Brown", "Taylor", "Miller", "Wilson"}},
	{"es", "ES", "+3461", []string{"Europe/Madrid", "America/Mexico_City", "America/Bogota", "America/Argentina/Buenos_Aires"},
		[]string{"Lucía", "Hugo", "Martina", "Mateo", "Sofía", "Álvaro", "Valentina", "Diego"}, []string{"García", "Fernández", "López", "Martínez", "Sánchez", "Pérez"}},
	{"pt-BR", "BR", "+55119", []string{"America/Sao_Paulo", "America/Manaus", "America/Recife"},
		[]string{"Ana", "João", "Maria", "Pedro", "Beatriz", "Gabriel", "Júlia", "Lucas"}, []string{"Silva", "Santos", "Oliveira", "Souza", "Conceição", "Araújo"}},
	{"id", "ID", "+62812", []string{"Asia/Jakarta", "Asia/Makassar", "Asia/Jayapura"},
		[]string{"Putri", "Budi", "Siti", "Agus", "Dewi", "Rizky", "Ayu", "Eko"}, []string{"Wijaya", "Saputra", "Hidayat", "Pratama", "Kusuma", "Nugroho"}},
	{"tr", "TR", "+90532", []string{"Europe/Istanbul"},
		[]string{"Zeynep", "Mehmet", "Elif", "Mustafa", "Ayşe", "Emre", "Şule", "Çağan"}, []string{"Yılmaz", "Kaya", "Demir", "Şahin", "Çelik", "Öztürk"}},
	{"ru", "RU", "+7916", []string{"Europe/Moscow", "Asia/Yekaterinburg", "Asia/Novosibirsk", "Asia/Vladivostok"},
		[]string{"Анна", "Иван", "Мария", "Дмитрий", "Ольга", "Сергей", "Елена", "Алексей"}, []string{"Иванова", "Смирнов", "Кузнецова", "Попов", "Соколова", "Лебедев"}},
}

// eventTypes are the types seeded notifications are of, with their data.
var eventTypes = []struct {
	key  string
	data func(i int) map[string]any
}{
	{"task.assigned", func(i int) map[string]any {
		return map[string]any{"title": fmt.Sprintf("Call the client about deal #%d", 1000+i), "from": "CRM", "url": fmt.Sprintf("https://crm.example/tasks/%d", i)}
	}},
	{"lead.incoming", func(i int) map[string]any {
		return map[string]any{"title": fmt.Sprintf("Lead #%d", 5000+i), "source": "form", "url": fmt.Sprintf("https://crm.example/leads/%d", i)}
	}},
	{"email.incoming", func(i int) map[string]any {
		return map[string]any{"title": fmt.Sprintf("Re: proposal %d", i), "from": "client@example.com"}
	}},
	{"mention", func(i int) map[string]any {
		return map[string]any{"title": fmt.Sprintf("Deal #%d", 2000+i), "from": "CRM"}
	}},
}

// Seed fills db as c says.
func Seed(ctx context.Context, db *store.DB, c Config) (*Result, error) {
	if c.Now == nil {
		c.Now = time.Now
	}
	now := c.Now().UTC() // one clock reading for every workspace
	var n int
	if err := db.R.QueryRowContext(ctx, "SELECT COUNT(*) FROM workspaces").Scan(&n); err != nil {
		return nil, fmt.Errorf("seed: %w", err)
	}
	if n > 0 {
		return nil, ErrNotEmpty
	}
	if c.Workspaces < 1 || c.UsersPerWorkspace < 1 || c.NotificationsPerUser < 0 {
		return nil, errors.New("seed: workspaces and users per workspace must be at least 1")
	}
	if len(c.Password) < 8 {
		return nil, errors.New("seed: the password must have at least 8 characters")
	}
	hash, err := auth.NewHasher(1).Hash(ctx, c.Password)
	if err != nil {
		return nil, err
	}
	bundle, err := i18n.New()
	if err != nil {
		return nil, err
	}
	var (
		mu    sync.Mutex
		res   = &Result{}
		creds = make([][]Credential, c.Workspaces) // by workspace, once committed
	)
	// A workspace is one transaction. On PostgreSQL its work is the
	// server's, on one core, so workspaces are seeded side by side;
	// SQLite has one writer and takes them in turn.
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(1)
	if db.Engine == store.Postgres {
		n := min(max(runtime.NumCPU(), 2), 8)
		// Each needs a connection of its own: more would wait for one.
		if conns := db.W.Stats().MaxOpenConnections; conns > 0 {
			n = min(n, conns)
		}
		g.SetLimit(n)
	}
	// The workspaces' rows are made in turn, so their ids follow Seed 1,
	// Seed 2, … (the first is the instance's default workspace) while the
	// rest of each is seeded side by side.
	created := make([]chan struct{}, c.Workspaces)
	for w := range created {
		created[w] = make(chan struct{})
	}
	for w := range c.Workspaces {
		g.Go(func() error {
			done := sync.OnceFunc(func() { close(created[w]) })
			defer done()
			inTurn := func(create func() error) error {
				if w > 0 {
					select {
					case <-created[w-1]:
					case <-gctx.Done():
						return gctx.Err()
					}
				}
				defer done()
				return create()
			}
			rng := rand.New(rand.NewPCG(uint64(w), uint64(c.UsersPerWorkspace)))
			made, err := seedWorkspace(gctx, db, c, w, now, hash, bundle, rng, inTurn)
			if err != nil {
				return err
			}
			mu.Lock()
			defer mu.Unlock()
			creds[w] = made.creds
			res.Workspaces++
			res.Users += made.users
			res.Notifications += made.notifications
			return nil
		})
	}
	err = g.Wait()
	// In workspace order, whichever ran first: each workspace's people
	// together, its admin first. Only committed workspaces are written.
	if c.Credentials != nil {
		out := json.NewEncoder(c.Credentials)
		for _, list := range creds {
			for _, cr := range list {
				if werr := out.Encode(cr); werr != nil {
					return res, errors.Join(err, fmt.Errorf("seed: write credentials: %w", werr))
				}
			}
		}
	}
	if err != nil {
		return res, err
	}
	if err := db.AfterBulkLoad(ctx); err != nil {
		return res, fmt.Errorf("seed: the data is in, but %w", err)
	}
	return res, nil
}

type counts struct {
	users, notifications int
	creds                []Credential
}

// userBatch bounds the rows built in memory at once.
var userBatch = 1000

func seedWorkspace(ctx context.Context, db *store.DB, c Config, w int, now time.Time, hash string, bundle *i18n.Bundle,
	rng *rand.Rand, inTurn func(create func() error) error) (counts, error) {
	var made counts
	home := cast[w%len(cast)]
	nowMS := now.UnixMilli()
	err := db.InTx(ctx, func(q *store.Q) error {
		if err := q.TrustRows(ctx); err != nil {
			return err
		}
		ws := &core.Workspace{Name: fmt.Sprintf("Seed %d (%s)", w+1, i18n.LanguageName(home.lang)), Timezone: home.zones[0],
			Language: home.lang, Country: home.country}
		if err := inTurn(func() error { return q.CreateWorkspace(ctx, ws) }); err != nil {
			return err
		}
		// The workspace's events, one per notification each person gets,
		// and what each says in each language, as its notifications carry
		// it; the older half is read.
		texts := make([]store.SeedText, 0, c.NotificationsPerUser*len(i18n.Supported))
		for i := range c.NotificationsPerUser {
			et := eventTypes[i%len(eventTypes)]
			t, _ := notify.TypeOf(et.key)
			data := et.data(i)
			b, _ := json.Marshal(data)
			at := now.Add(-time.Duration(c.NotificationsPerUser-i) * time.Minute).UnixMilli()
			id, err := q.InsertSeedEvent(ctx, ws.ID, t.Key, string(b), at)
			if err != nil {
				return err
			}
			var read sql.NullInt64
			if i < c.NotificationsPerUser-c.NotificationsPerUser/2 {
				read = sql.NullInt64{Int64: at + 60_000, Valid: true}
			}
			for _, lang := range i18n.Supported {
				text := notify.Render(t, data, bundle.Localizer(lang))
				texts = append(texts, store.SeedText{EventID: id, Language: lang, Type: t.Key, Category: string(t.Category),
					Title: text.Title, Body: text.Body, URL: text.URL, CreatedAt: at, ReadAt: read})
			}
		}
		for start := 0; start < c.UsersPerWorkspace; start += userBatch {
			end := min(start+userBatch, c.UsersPerWorkspace)
			var users, sessions, tokens, settings, inboxes [][]any
			batch := make([]Credential, 0, end-start)
			for i := start; i < end; i++ {
				p := cast[(w+i)%len(cast)]
				if i%4 != 0 {
					p = home // most people speak the workspace's language
				}
				role := core.RoleUser
				if i == 0 {
					role = core.RoleAdmin
				}
				email := fmt.Sprintf("user%d@ws%d.seed.example", i+1, w+1)
				name := p.first[rng.IntN(len(p.first))] + " " + p.last[rng.IntN(len(p.last))]
				phone := fmt.Sprintf("%s%0*d", p.phonePrefix, 12-len(p.phonePrefix), rng.IntN(10_000))
				zone := p.zones[rng.IntN(len(p.zones))]
				users = append(users, []any{ws.ID, name, email, hash, string(role), "", string(core.StateActive), p.lang, zone, phone, "",
					false, nowMS, nowMS})
				batch = append(batch, Credential{WorkspaceID: ws.ID, Email: email, Admin: role == core.RoleAdmin,
					APIToken: auth.APITokenPrefix + auth.NewToken(), Session: auth.NewToken()})
			}
			if err := q.BulkInsert(ctx, "users", []string{"workspace_id", "name", "email", "password_hash", "role", "rights", "state",
				"language", "timezone", "phone", "note", "two_factor_enabled", "created_at", "updated_at"}, users); err != nil {
				return err
			}
			emails := make([]string, len(batch))
			for k, cr := range batch {
				emails[k] = cr.Email
			}
			byEmail, err := q.UserIDsByEmail(ctx, ws.ID, emails)
			if err != nil {
				return err
			}
			ids := make([]int64, len(batch))
			for k := range batch {
				id := byEmail[batch[k].Email]
				ids[k] = id
				batch[k].UserID = id
				sessions = append(sessions, []any{id, string(core.SessionWeb), auth.HashToken(batch[k].Session), nowMS, nowMS,
					now.Add(30 * 24 * time.Hour).UnixMilli(), "127.0.0.1", "seed"})
				tokens = append(tokens, []any{id, "seed", auth.HashToken(batch[k].APIToken), nowMS, now.Add(365 * 24 * time.Hour).UnixMilli()})
				// One in ten reads email once a day.
				if (start+k)%10 == 9 {
					settings = append(settings, []any{id, true, core.EmailDaily, "09:00", nowMS,
						notify.NextDigest(now, time.UTC, 9, 0, "").UnixMilli()})
				}
				if c.NotificationsPerUser > 0 {
					inboxes = append(inboxes, []any{id, int64(c.NotificationsPerUser / 2), 0})
				}
			}
			if err := q.BulkInsert(ctx, "sessions", []string{"user_id", "kind", "token_hash", "created_at", "last_seen_at", "expires_at", "ip", "device"}, sessions); err != nil {
				return err
			}
			if err := q.BulkInsert(ctx, "api_tokens", []string{"user_id", "name", "token_hash", "created_at", "expires_at"}, tokens); err != nil {
				return err
			}
			if err := q.BulkInsert(ctx, "notify_settings", []string{"user_id", "receive", "email_timing", "digest_time", "updated_at", "digest_next_at"}, settings); err != nil {
				return err
			}
			if err := q.BulkInsert(ctx, "notify_inbox", []string{"user_id", "unread", "seq"}, inboxes); err != nil {
				return err
			}
			// Notifications: the database makes them from the batch's people
			// and the events' texts, so none crosses the connection.
			n, err := q.SeedNotifications(ctx, ws.ID, slices.Min(ids), slices.Max(ids), texts)
			if err != nil {
				return err
			}
			if want := int64(len(batch) * c.NotificationsPerUser); n != want {
				return fmt.Errorf("seed: %d notifications made for %d people, want %d", n, len(batch), want)
			}
			made.users += len(batch)
			made.notifications += int(n)
			made.creds = append(made.creds, batch...)
		}
		return nil
	})
	return made, err
}
