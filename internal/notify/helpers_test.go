package notify_test

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"sync"
	"testing"

	"roster/internal/core"
	"roster/internal/notify"
	"roster/internal/services"
	"roster/internal/services/servicetest"
	"roster/internal/store"
)

type noMail struct{}

func (noMail) EnqueueTx(_ context.Context, tx *sql.Tx, _ int64, _, _, _ string, _ map[string]any) error {
	if tx == nil {
		return errors.New("mail outside a transaction")
	}
	return nil
}

// fakeChannel is an adapter that reaches everyone not in unreachable and
// answers each send with the next of its errors (nil when none are left).
type fakeChannel struct {
	ch          notify.Channel
	unreachable map[int64]string
	mu          sync.Mutex
	errs        []error
	sent        []*notify.Message
	unlinked    int
}

func (f *fakeChannel) Channel() notify.Channel { return f.ch }

func (f *fakeChannel) Reach(_ context.Context, _ *store.Q, users []*core.User) (map[int64]string, error) {
	return f.unreachable, nil
}

func (f *fakeChannel) Send(_ context.Context, m *notify.Message) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if len(f.errs) > 0 {
		err := f.errs[0]
		f.errs = f.errs[1:]
		if err != nil {
			return err
		}
	}
	f.sent = append(f.sent, m)
	return nil
}

func (f *fakeChannel) Unlink(context.Context, *notify.Message) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.unlinked++
	return nil
}

type fixture struct {
	db    *store.DB
	set   *services.Set
	n     *notify.Service
	ws    *core.Workspace
	admin *core.User
	users []*core.User
}

// newFixture makes a workspace with an admin and n users (languages in
// turn from the six), and services with the given channels.
func newFixture(t testing.TB, db *store.DB, n int, channels ...notify.Adapter) *fixture {
	t.Helper()
	return newFixtureWith(t, db, n, services.Config{Channels: channels})
}

// newFixtureWith is newFixture with services built from c (DB and Mail
// filled in).
func newFixtureWith(t testing.TB, db *store.DB, n int, c services.Config) *fixture {
	t.Helper()
	ctx := context.Background()
	c.DB, c.Mail = db, noMail{}
	set := servicetest.New(t, c)
	f := &fixture{db: db, set: set, n: set.Notify}
	f.ws = &core.Workspace{Name: "Acme", Timezone: "UTC", Language: "en", Country: "US"}
	langs := []string{"en", "es", "pt-BR", "id", "tr", "ru"}
	err := db.InTx(ctx, func(q *store.Q) error {
		if err := q.CreateWorkspace(ctx, f.ws); err != nil {
			return err
		}
		f.admin = &core.User{WorkspaceID: f.ws.ID, Name: "Ada", Email: "ada@example.com", Language: "en", Timezone: "UTC",
			Role: core.RoleAdmin, State: core.StateActive, PasswordHash: "x"}
		if err := q.CreateUser(ctx, f.admin); err != nil {
			return err
		}
		for i := range n {
			u := &core.User{WorkspaceID: f.ws.ID, Name: fmt.Sprintf("User %d", i), Email: fmt.Sprintf("u%d@example.com", i),
				Language: langs[i%len(langs)], Timezone: "UTC", Role: core.RoleUser, State: core.StateActive, PasswordHash: "x"}
			if err := q.CreateUser(ctx, u); err != nil {
				return err
			}
			f.users = append(f.users, u)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return f
}

// otherWorkspace makes a second workspace with one user.
func (f *fixture) otherWorkspace(t *testing.T) *core.User {
	t.Helper()
	ctx := context.Background()
	ws := &core.Workspace{Name: "Globex", Timezone: "UTC", Language: "en", Country: "US"}
	u := &core.User{Name: "Gus", Email: "gus@example.com", Language: "en", Timezone: "UTC", Role: core.RoleAdmin, State: core.StateActive, PasswordHash: "x"}
	err := f.db.InTx(ctx, func(q *store.Q) error {
		if err := q.CreateWorkspace(ctx, ws); err != nil {
			return err
		}
		u.WorkspaceID = ws.ID
		return q.CreateUser(ctx, u)
	})
	if err != nil {
		t.Fatal(err)
	}
	return u
}

// count returns the rows of a table.
func (f *fixture) count(t *testing.T, table string) int {
	t.Helper()
	var n int
	if err := f.db.R.QueryRow("SELECT COUNT(*) FROM " + table).Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n
}

func fieldsOf(err error) []string {
	e := core.AsError(err)
	if e == nil {
		return nil
	}
	var out []string
	for _, f := range e.Fields {
		out = append(out, f.Field+":"+f.Key)
	}
	return out
}
