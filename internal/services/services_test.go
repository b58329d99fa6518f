package services_test

import (
	"context"
	"database/sql"
	"strings"
	"sync"
	"testing"
	"time"

	"roster/internal/account"
	"roster/internal/auth"
	"roster/internal/core"
	"roster/internal/mail/mailtest"
	"roster/internal/profile"
	"roster/internal/security"
	"roster/internal/services"
	"roster/internal/services/servicetest"
	"roster/internal/store"
	"roster/internal/store/storetest"
)

type queue struct {
	mu    sync.Mutex
	links []string
}

func (q *queue) EnqueueTx(_ context.Context, _ *sql.Tx, _ int64, _, _, template string, data map[string]any) error {
	q.mu.Lock()
	defer q.mu.Unlock()
	if link, ok := data["Link"].(string); ok {
		q.links = append(q.links, link)
	}
	return mailtest.Check(template, data)
}

func (q *queue) lastLink(t *testing.T, part string) string {
	t.Helper()
	for i := len(q.links) - 1; i >= 0; i-- {
		if strings.Contains(q.links[i], part) {
			return q.links[i][strings.LastIndex(q.links[i], "/")+1:]
		}
	}
	t.Fatalf("no %s link mailed", part)
	return ""
}

// watcher is a follower as the notification centre will be one.
type watcher struct {
	mu     sync.Mutex
	events []core.Event
}

func (w *watcher) Follow(_ context.Context, _ *store.Q, e *core.Event) error {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.events = append(w.events, *e)
	return nil
}

// Every security notice reaches the followers of the one recorder, from
// the real flows, addressed to the user concerned: what the notification
// centre will build on.
func TestSecurityNoticesReachFollowers(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		now := time.Now()
		db.SetClock(func() time.Time { return now })
		mails, w := &queue{}, &watcher{}
		set := servicetest.New(t, services.Config{DB: db, Mail: mails, Followers: []services.Follower{w}})

		admin, err := set.Accounts.Setup(ctx, account.SetupInput{Workspace: "Acme", Timezone: "UTC", Language: "en",
			Name: "Ana", Email: "ana@example.com", Password: "tangerine-violin"})
		if err != nil {
			t.Fatal(err)
		}
		bo, err := set.Accounts.CreateUser(ctx, account.CreateUserInput{Workspace: "Acme", Name: "Bo", Email: "bo@example.com",
			Password: "tangerine-violin", Role: core.RoleUser})
		if err != nil {
			t.Fatal(err)
		}
		signIn := func(pw, device string) *auth.Principal {
			t.Helper()
			res, err := set.Security.SignIn(ctx, auth.LoginInput{Email: "bo@example.com", Password: pw, IP: "203.0.113.5", Device: device})
			if err != nil || res.LoginResult == nil {
				t.Fatalf("sign-in: %+v %v", res, err)
			}
			return &auth.Principal{User: res.User, Session: res.Session}
		}
		signIn("tangerine-violin", "Firefox · Linux")
		p := signIn("tangerine-violin", "Safari · iOS") // a new device
		if err := set.Profiles.ChangePassword(ctx, p, profile.PasswordChange{Current: "tangerine-violin", New: "violin-tangerine-2"}); err != nil {
			t.Fatal(err)
		}
		if _, err := set.Profiles.RequestEmailChange(ctx, p.User, bo.ID, "bo.new@example.com", ""); err != nil {
			t.Fatal(err)
		}
		if _, err := set.Profiles.ConfirmEmailChange(ctx, mails.lastLink(t, "/email/confirm/"), ""); err != nil {
			t.Fatal(err)
		}
		bo, _ = db.Reader().User(ctx, bo.ID)
		p.User = bo
		setup, err := set.Security.StartTOTP(ctx, p, "violin-tangerine-2", "", "Acme", "")
		if err != nil {
			t.Fatal(err)
		}
		if _, err := set.Security.ConfirmTOTP(ctx, p, security.CodeAt(setup.Secret, now), ""); err != nil {
			t.Fatal(err)
		}
		now = now.Add(31 * time.Second)
		p.User, _ = db.Reader().User(ctx, bo.ID)
		if err := set.Security.Disable(ctx, p, core.MethodTOTP, "violin-tangerine-2", security.CodeAt(setup.Secret, now), ""); err != nil {
			t.Fatal(err)
		}
		p.User, _ = db.Reader().User(ctx, bo.ID)
		setup, err = set.Security.StartTOTP(ctx, p, "violin-tangerine-2", "", "Acme", "")
		if err != nil {
			t.Fatal(err)
		}
		if _, err := set.Security.ConfirmTOTP(ctx, p, security.CodeAt(setup.Secret, now), ""); err != nil {
			t.Fatal(err)
		}
		if err := set.Security.Reset(ctx, &auth.Principal{User: admin.User, Session: admin.Session}, bo.ID, ""); err != nil {
			t.Fatal(err)
		}

		want := []core.Notice{core.NoticeNewDevice, core.NoticePasswordChanged, core.NoticeEmailChangeRequested, core.NoticeEmailChanged,
			core.NoticeTwoFactorEnabled, core.NoticeTwoFactorDisabled, core.NoticeTwoFactorEnabled, core.NoticeTwoFactorReset}
		var got []core.Notice
		for _, e := range w.events {
			if e.Notice == "" {
				continue
			}
			got = append(got, e.Notice)
			if e.TargetID != bo.ID || e.Recipient == nil || e.Recipient.ID != bo.ID || e.At.IsZero() {
				t.Errorf("%s: target %d, recipient %+v, at %v", e.Notice, e.TargetID, e.Recipient, e.At)
			}
		}
		if strings.Join(noticeNames(got), " ") != strings.Join(noticeNames(want), " ") {
			t.Fatalf("notices followed:\n got %v\nwant %v", got, want)
		}
		// Every audit entry came through the recorder, so the followers saw
		// each one.
		entries, err := db.Reader().WorkspaceAudit(ctx, store.AuditFilter{WorkspaceID: bo.WorkspaceID, Limit: 1000})
		if err != nil {
			t.Fatal(err)
		}
		if len(entries) != len(w.events) {
			t.Fatalf("%d audit entries, %d events followed", len(entries), len(w.events))
		}
		// Each notice also became a notification in Bo's centre, in his
		// language, the newest first.
		var ids []int64
		rows, err := db.R.QueryContext(ctx, db.Rebind("SELECT id FROM notify_events WHERE type LIKE 'security.%' ORDER BY id"))
		if err != nil {
			t.Fatal(err)
		}
		for rows.Next() {
			var id int64
			if err := rows.Scan(&id); err != nil {
				t.Fatal(err)
			}
			ids = append(ids, id)
		}
		rows.Close()
		for _, id := range ids {
			if err := set.Notify.Fanout(ctx, id); err != nil {
				t.Fatal(err)
			}
		}
		page, err := set.Notify.List(ctx, bo, 0, "security", 100)
		if err != nil {
			t.Fatal(err)
		}
		var inCentre []string
		for i := len(page.Items) - 1; i >= 0; i-- {
			inCentre = append(inCentre, page.Items[i].Type)
		}
		if strings.Join(inCentre, " ") != strings.Join(noticeNames(want), " ") {
			t.Fatalf("security notices in the centre:\n got %v\nwant %v", inCentre, want)
		}
	})
}

func noticeNames(list []core.Notice) []string {
	out := make([]string, len(list))
	for i, n := range list {
		out[i] = string(n)
	}
	return out
}
