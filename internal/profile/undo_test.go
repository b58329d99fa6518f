package profile_test

import (
	"context"
	"strings"
	"sync"
	"testing"
	"time"

	"roster/internal/core"
	"roster/internal/profile"
	"roster/internal/store"
	"roster/internal/store/storetest"
)

// changeOwnEmail moves ana's address to to and returns the undo token of
// the notice mailed to the old address.
func changeOwnEmail(t *testing.T, f *fx, to string) string {
	t.Helper()
	ctx := context.Background()
	if _, err := f.prof.RequestEmailChange(ctx, f.admin, f.admin.ID, to, ""); err != nil {
		t.Fatal(err)
	}
	confirm := f.mail.last("email_confirm")
	token := confirm.Data["Link"].(string)[strings.LastIndex(confirm.Data["Link"].(string), "/")+1:]
	u, err := f.prof.ConfirmEmailChange(ctx, token, "")
	if err != nil || u.Email != to {
		t.Fatalf("confirm: %v", err)
	}
	notice := f.mail.last("email_changed")
	if notice == nil || notice.To == to || notice.Data["NewEmail"] != to || notice.Data["Days"] != 7 {
		t.Fatalf("the old address got no undo notice: %+v", notice)
	}
	link := notice.Data["Link"].(string)
	undo, ok := strings.CutPrefix(link, "https://roster.example/email/undo/")
	if !ok || len(undo) < 40 {
		t.Fatalf("undo link %q", link)
	}
	return undo
}

// TestEmailChangeUndo: every change mails the old address a link, valid 7
// days and once, that puts it back and ends every session and API token.
func TestEmailChangeUndo(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		f := setup(t, db)
		apiToken, _, err := f.auth.CreateAPIToken(ctx, f.admin, "CRM sync", 30*24*time.Hour)
		if err != nil {
			t.Fatal(err)
		}
		undo := changeOwnEmail(t, f, "mallory@example.com")
		if f.mail.last("email_changed").To != "ana@example.com" {
			t.Fatalf("notice to %s", f.mail.last("email_changed").To)
		}
		if err := f.prof.EmailUndoUsable(ctx, undo); err != nil {
			t.Fatalf("fresh undo link: %v", err)
		}

		// Racing uses: exactly one puts the address back.
		var wg sync.WaitGroup
		var mu sync.Mutex
		wins := 0
		for range 8 {
			wg.Go(func() {
				u, err := f.prof.UndoEmailChange(ctx, undo, "203.0.113.7")
				mu.Lock()
				defer mu.Unlock()
				switch {
				case err == nil && u.Email == "ana@example.com":
					wins++
				case core.ErrorCode(err) != core.ENOTFOUND:
					t.Errorf("undo: %v", err)
				}
			})
		}
		wg.Wait()
		if wins != 1 {
			t.Fatalf("%d undos passed, want 1", wins)
		}
		if u, err := db.Reader().UserByEmail(ctx, "ana@example.com"); err != nil || u.ID != f.admin.ID {
			t.Fatalf("address not back: %v", err)
		}
		if _, err := f.auth.Authenticate(ctx, f.adminRes.Token, ""); core.ErrorCode(err) != core.EUNAUTHORIZED {
			t.Errorf("session survived the undo: %v", err)
		}
		if _, err := f.auth.Authenticate(ctx, apiToken, ""); core.ErrorCode(err) != core.EUNAUTHORIZED {
			t.Errorf("API token survived the undo: %v", err)
		}
		if err := f.prof.EmailUndoUsable(ctx, undo); core.ErrorCode(err) != core.ENOTFOUND {
			t.Errorf("used undo link still usable: %v", err)
		}
		entries, err := db.Reader().AuditLog(ctx, f.admin.WorkspaceID, f.admin.ID, 10)
		if err != nil {
			t.Fatal(err)
		}
		if entries[0].Action != core.AuditEmailChangeUndone || entries[0].Detail != "mallory@example.com → ana@example.com" || entries[0].IP != "203.0.113.7" {
			t.Errorf("audit: %+v", entries[0])
		}

		// Expired after 7 days.
		undo = changeOwnEmail(t, f, "ana.new@example.com")
		f.now = f.now.Add(7*24*time.Hour + time.Minute)
		if _, err := f.prof.UndoEmailChange(ctx, undo, ""); core.ErrorCode(err) != core.ENOTFOUND {
			t.Fatalf("expired undo: %v", err)
		}

		// The old address taken by someone else since: refused, nothing changes.
		undo = changeOwnEmail(t, f, "ana.third@example.com")
		f.user(t, "ana.new@example.com", "Another Ana")
		if _, err := f.prof.UndoEmailChange(ctx, undo, ""); err != profile.ErrEmailTakenAtConfirm {
			t.Fatalf("undo onto a taken address: %v", err)
		}
		if u, err := db.Reader().User(ctx, f.admin.ID); err != nil || u.Email != "ana.third@example.com" {
			t.Fatalf("a refused undo changed the address: %v %v", u, err)
		}
	})
}
