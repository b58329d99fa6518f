package auth_test

import (
	"context"
	"testing"
	"time"

	"roster/internal/auth"
	"roster/internal/core"
	"roster/internal/store"
	"roster/internal/store/storetest"
)

// TestNewDeviceNoticeAndAudit: the first device gets no notice; a new
// device (label + IP) does; the same one again does not until 90 days pass.
// Every sign-in and every failed one is in the audit log.
func TestNewDeviceNoticeAndAudit(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		now := time.Now()
		db.SetClock(func() time.Time { return now })
		svc := newEnv(t, db, auth.Config{})
		mail := svc.mail // the sign-in event's follower mails the notice
		u := newUser(t, db, svc, "ana@example.com", "tangerine-violin", core.StateActive)
		login := func(device, ip string) {
			t.Helper()
			if _, err := svc.login(ctx, auth.LoginInput{Email: "ana@example.com", Password: "tangerine-violin", Device: device, IP: ip}); err != nil {
				t.Fatal(err)
			}
		}
		login("Firefox · Linux", "10.0.0.1")
		if len(mail.sent) != 0 {
			t.Fatal("the first device got a notice")
		}
		login("Firefox · Linux", "10.0.0.1")
		login("Safari · iOS", "10.0.0.9")
		if len(mail.sent) != 1 || mail.sent[0].template != "new_device" || mail.sent[0].data["Device"] != "Safari · iOS" || mail.sent[0].data["IP"] != "10.0.0.9" {
			t.Fatalf("notices: %+v", mail.sent)
		}
		login("Safari · iOS", "10.0.0.9")
		if len(mail.sent) != 1 {
			t.Fatal("a known device got a notice")
		}
		now = now.Add(91 * 24 * time.Hour)
		login("Safari · iOS", "10.0.0.9")
		if len(mail.sent) != 2 {
			t.Fatal("a device unseen for 90 days got no notice")
		}
		_, _ = svc.login(ctx, auth.LoginInput{Email: "ana@example.com", Password: "wrong-password", IP: "6.6.6.6"})
		log, _ := db.Reader().AuditLog(ctx, u.WorkspaceID, u.ID, 20)
		if len(log) != 6 || log[0].Action != core.AuditSignInFailed || log[0].IP != "6.6.6.6" || log[1].Action != core.AuditSignIn || log[1].Detail != "password" {
			t.Fatalf("audit: %d entries, newest %+v", len(log), log[0])
		}
	})
}
