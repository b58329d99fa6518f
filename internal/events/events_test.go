package events_test

import (
	"context"
	"database/sql"
	"errors"
	"go/ast"
	"go/parser"
	"go/token"
	"io/fs"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"roster/internal/core"
	"roster/internal/events"
	"roster/internal/mail/mailtest"
	"roster/internal/store"
	"roster/internal/store/storetest"
)

// queue records mails as the real queue would take them: rendered
// through the real templates in every language, inside a transaction.
type queue struct{ mails []mailed }

type mailed struct {
	to, lang, template string
	data               map[string]any
}

func (q *queue) EnqueueTx(_ context.Context, tx *sql.Tx, _ int64, to, lang, template string, data map[string]any) error {
	if tx == nil {
		return errors.New("mail enqueued outside a transaction")
	}
	q.mails = append(q.mails, mailed{to, lang, template, data})
	return mailtest.Check(template, data)
}

// follower records what it is handed, and fails when told to.
type follower struct {
	seen []core.Event
	fail error
}

func (f *follower) Follow(_ context.Context, _ *store.Q, e *core.Event) error {
	f.seen = append(f.seen, *e)
	return f.fail
}

func seed(t *testing.T, db *store.DB) (*core.Workspace, *core.User) {
	t.Helper()
	ctx := context.Background()
	ws := &core.Workspace{Name: "Acme", Timezone: "UTC", Language: "en", Country: "US"}
	u := &core.User{Name: "Ana", Email: "ana@example.com", Language: "ru", Timezone: "Asia/Kolkata", Role: core.RoleAdmin, State: core.StateActive, PasswordHash: "x"}
	err := db.InTx(ctx, func(q *store.Q) error {
		if err := q.CreateWorkspace(ctx, ws); err != nil {
			return err
		}
		u.WorkspaceID = ws.ID
		return q.CreateUser(ctx, u)
	})
	if err != nil {
		t.Fatal(err)
	}
	return ws, u
}

func audit(t *testing.T, db *store.DB, ws *core.Workspace) []*core.AuditEntry {
	t.Helper()
	list, err := db.Reader().WorkspaceAudit(context.Background(), store.AuditFilter{WorkspaceID: ws.ID, Limit: 100})
	if err != nil {
		t.Fatal(err)
	}
	return list
}

// The recorder writes the audit entry and hands the event on, in the
// change's transaction: a follower's failure rolls the entry back too.
func TestRecordInTheChangesTransaction(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		ws, u := seed(t, db)
		f := &follower{}
		rec := events.New(f)
		e := core.Event{Action: core.AuditPasswordChanged, WorkspaceID: ws.ID, ActorID: u.ID, TargetID: u.ID, IP: "203.0.113.9", Device: "Firefox · Linux"}
		if err := db.InTx(ctx, func(q *store.Q) error { return rec.Record(ctx, q, e) }); err != nil {
			t.Fatal(err)
		}
		got := audit(t, db, ws)
		if len(got) != 1 || got[0].Action != core.AuditPasswordChanged || got[0].ActorID != u.ID || got[0].TargetID != u.ID || got[0].IP != "203.0.113.9" {
			t.Fatalf("audit: %+v", got)
		}
		if len(f.seen) != 1 || f.seen[0].At.IsZero() || f.seen[0].At.Sub(got[0].CreatedAt).Abs() > time.Second || f.seen[0].Device != "Firefox · Linux" {
			t.Fatalf("follower saw %+v", f.seen)
		}

		f.fail = errors.New("follower down")
		err := db.InTx(ctx, func(q *store.Q) error { return rec.Record(ctx, q, e) })
		if !errors.Is(err, f.fail) {
			t.Fatalf("a follower's error must fail the record: %v", err)
		}
		if n := len(audit(t, db, ws)); n != 1 {
			t.Fatalf("%d entries after a rolled-back record, want 1", n)
		}

		// A notice cannot go out for a change that may still roll back
		// without it, nor without its recipient.
		if err := rec.Record(ctx, db.Writer(), core.Event{Action: core.AuditPasswordChanged, WorkspaceID: ws.ID, TargetID: u.ID,
			Notice: core.NoticePasswordChanged, Recipient: u}); err == nil {
			t.Fatal("a notice outside a transaction was recorded")
		}
		if err := db.InTx(ctx, func(q *store.Q) error {
			return rec.Record(ctx, q, core.Event{Action: core.AuditPasswordChanged, WorkspaceID: ws.ID, TargetID: u.ID, Notice: core.NoticePasswordChanged})
		}); err == nil {
			t.Fatal("a notice without its recipient was recorded")
		}
	})
}

// Every security notice that is mailed is mailed by the recorder's
// follower to the recipient, in their language, through the real
// templates with the data each template needs.
func TestNoticeMail(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		ws, u := seed(t, db)
		mails := &queue{}
		rec := events.New(events.NoticeMail{Mail: mails})
		cases := []struct {
			notice   core.Notice
			event    core.Event
			template string
			want     map[string]any
		}{
			{core.NoticePasswordChanged, core.Event{Action: core.AuditPasswordChanged}, "password_changed", map[string]any{"Name": "Ana"}},
			{core.NoticeEmailChangeRequested, core.Event{Action: core.AuditEmailChangeRequested, Detail: "new@example.com"}, "email_change_notice",
				map[string]any{"OldEmail": "ana@example.com", "NewEmail": "new@example.com"}},
			{core.NoticeTwoFactorEnabled, core.Event{Action: core.AuditTwoFactorEnabled, Detail: "totp"}, "two_factor_enabled", map[string]any{"Method": "totp"}},
			{core.NoticeTwoFactorDisabled, core.Event{Action: core.AuditTwoFactorDisabled, Detail: "email"}, "two_factor_disabled", map[string]any{"Method": "email", "AllOff": true}},
			{core.NoticeTwoFactorReset, core.Event{Action: core.AuditTwoFactorReset, ActorName: "Boss"}, "two_factor_reset", map[string]any{"AdminName": "Boss"}},
			{core.NoticeNewDevice, core.Event{Action: core.AuditSignIn, IP: "198.51.100.4", Device: "Safari · iOS"}, "new_device",
				map[string]any{"IP": "198.51.100.4", "Device": "Safari · iOS"}},
			// Its mail carries the one-time undo link: profile sends it.
			{core.NoticeEmailChanged, core.Event{Action: core.AuditEmailChanged}, "", nil},
			{"", core.Event{Action: core.AuditNoteChanged}, "", nil},
		}
		for _, c := range cases {
			mails.mails = nil
			e := c.event
			e.WorkspaceID, e.TargetID, e.Notice = ws.ID, u.ID, c.notice
			if c.notice != "" {
				e.Recipient = u
			}
			if err := db.InTx(ctx, func(q *store.Q) error { return rec.Record(ctx, q, e) }); err != nil {
				t.Fatalf("%s: %v", c.notice, err)
			}
			if c.template == "" {
				if len(mails.mails) != 0 {
					t.Errorf("%q mailed %+v", c.notice, mails.mails)
				}
				continue
			}
			if len(mails.mails) != 1 {
				t.Fatalf("%s: %d mails", c.notice, len(mails.mails))
			}
			m := mails.mails[0]
			if m.template != c.template || m.to != "ana@example.com" || m.lang != "ru" {
				t.Errorf("%s: mailed %s to %s in %s", c.notice, m.template, m.to, m.lang)
			}
			for k, v := range c.want {
				if m.data[k] != v {
					t.Errorf("%s: data %s = %v, want %v", c.notice, k, m.data[k], v)
				}
			}
			if c.notice == core.NoticeNewDevice && !strings.Contains(m.data["Time"].(string), "IST") {
				t.Errorf("new device time %q not in the user's zone", m.data["Time"])
			}
		}
	})
}

// One place records: no package but events writes an audit entry, and no
// package mails a security notice's template itself. A new inline write
// turns this red.
func TestOnlyTheRecorderRecords(t *testing.T) {
	notices := map[string]bool{"password_changed": true, "email_change_notice": true, "two_factor_enabled": true,
		"two_factor_disabled": true, "two_factor_reset": true, "new_device": true}
	root := filepath.Join("..")
	fset := token.NewFileSet()
	err := filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() || !strings.HasSuffix(path, ".go") || strings.HasSuffix(path, "_test.go") {
			return err
		}
		dir := filepath.Base(filepath.Dir(path))
		if dir == "events" || dir == "store" || dir == "mailtest" {
			return nil
		}
		f, err := parser.ParseFile(fset, path, nil, 0)
		if err != nil {
			return err
		}
		ast.Inspect(f, func(n ast.Node) bool {
			call, ok := n.(*ast.CallExpr)
			if !ok {
				return true
			}
			sel, ok := call.Fun.(*ast.SelectorExpr)
			if !ok {
				return true
			}
			switch sel.Sel.Name {
			case "Audit":
				if len(call.Args) == 2 {
					t.Errorf("%s: writes an audit entry itself; record a core.Event with events.Recorder", fset.Position(call.Pos()))
				}
			case "EnqueueTx":
				if len(call.Args) == 7 {
					if lit, ok := call.Args[5].(*ast.BasicLit); ok {
						if name, _ := strconv.Unquote(lit.Value); notices[name] {
							t.Errorf("%s: mails the %s notice itself; record the event with its Notice", fset.Position(call.Pos()), name)
						}
					}
				}
			}
			return true
		})
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}
