package app_test

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"roster/internal/account"
	"roster/internal/app"
	"roster/internal/mail/mailtest"
	"roster/internal/store"
)

// TestSecurityNoticesWiredThroughTheApp: the notices that the services send
// as a side effect (new-device sign-in, password changed) reach a real SMTP
// server through the app as serve wires it. Unit tests of auth and profile
// use their own queues, so only this test notices when the app forgets to
// hand the mailer to a service.
func TestSecurityNoticesWiredThroughTheApp(t *testing.T) {
	ctx := context.Background()
	smtp := mailtest.NewServer(t)
	r := start(t, store.SQLite, app.Config{SMTPURL: smtp.URL(), MailFrom: "roster@example.com"})
	if _, err := r.Accounts.Setup(ctx, account.SetupInput{Workspace: "Acme", Language: "en", Name: "Ana",
		Email: "ana@example.com", Password: "tangerine-violin", Device: "Chrome · Windows", IP: "127.0.0.1"}); err != nil {
		t.Fatal(err)
	}
	login := func(userAgent string) string {
		t.Helper()
		req, _ := http.NewRequest(http.MethodPost, r.URL+"/api/v1/auth/login",
			strings.NewReader(`{"email":"ana@example.com","password":"tangerine-violin"}`))
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("User-Agent", userAgent)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var out struct {
			Token string `json:"token"`
		}
		body, _ := io.ReadAll(resp.Body)
		if resp.StatusCode != http.StatusOK || json.Unmarshal(body, &out) != nil || out.Token == "" {
			t.Fatalf("sign in: %d %s", resp.StatusCode, body)
		}
		return out.Token
	}
	// The device that set up the workspace is known; a second one is new.
	login("Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/130.0 Safari/537.36")
	token := login("Mozilla/5.0 (X11; Linux x86_64; rv:132.0) Gecko/20100101 Firefox/132.0")
	msgs := smtp.WaitFor(t, 1, 30*time.Second)
	if len(msgs) != 1 || msgs[0].To[0] != "ana@example.com" || !strings.Contains(string(msgs[0].Data), "Subject: New sign-in to Roster") {
		t.Fatalf("after a sign-in from a new device the mail is %d messages: %q", len(msgs), msgs)
	}

	req, _ := http.NewRequest(http.MethodPost, r.URL+"/api/v1/me/password",
		strings.NewReader(`{"current_password":"tangerine-violin","new_password":"marmalade-trombone"}`))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Authorization", "Bearer "+token)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusNoContent {
		t.Fatalf("change password: %d %s", resp.StatusCode, body)
	}
	msgs = smtp.WaitFor(t, 2, 30*time.Second)
	var subjects []string
	for _, m := range msgs {
		_, rest, _ := strings.Cut(string(m.Data), "Subject: ")
		subject, _, _ := strings.Cut(rest, "\r\n")
		subjects = append(subjects, subject)
	}
	if len(msgs) != 2 || subjects[1] != "Your Roster password was changed" {
		t.Fatalf("after a password change the mail subjects are %q", subjects)
	}
}
