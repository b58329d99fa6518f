package fcm_test

import (
	"context"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	"roster/internal/notify/mobile/fcm"
	"roster/internal/notify/mobile/push"
	"roster/internal/notify/mobile/pushtest"
)

func newClient(t *testing.T, srv *pushtest.FCM) *fcm.Client {
	t.Helper()
	c, err := fcm.New(fcm.Config{Credentials: srv.Credentials, Endpoint: srv.URL, HTTP: push.ClientConfig{RootCAs: srv.RootCAs}})
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func message(token string) *push.Message {
	return &push.Message{Token: token, Title: "New task: Call Globex", Body: "Ana assigned it to you", URL: "https://crm.example/tasks/7",
		Type: "task.assigned", ID: "42", High: true, CollapseID: "roster-42", Expires: time.Now().Add(time.Hour)}
}

// TestSendShapeAndTokenCaching: the message reaches the local server
// with the bearer token its token server issued after checking the JWT
// assertion, in the documented shape; 50 concurrent sends ask for one
// access token.
func TestSendShapeAndTokenCaching(t *testing.T) {
	srv := pushtest.NewFCM(t)
	c := newClient(t, srv)
	ctx := context.Background()
	var wg sync.WaitGroup
	for range 50 {
		wg.Go(func() {
			if err := c.Send(ctx, message("tok:APA91b-abc_1")); err != nil {
				t.Error(err)
			}
		})
	}
	wg.Wait()
	got := srv.Received()
	if len(got) != 50 || srv.TokenRequests() != 1 || len(srv.Violations()) > 0 {
		t.Fatalf("%d received, %d token requests, violations %v", len(got), srv.TokenRequests(), srv.Violations())
	}
	m := got[0].Payload["message"].(map[string]any)
	n := m["notification"].(map[string]any)
	data := m["data"].(map[string]any)
	android := m["android"].(map[string]any)
	if m["token"] != "tok:APA91b-abc_1" || n["title"] != "New task: Call Globex" || n["body"] != "Ana assigned it to you" ||
		data["url"] != "https://crm.example/tasks/7" || data["type"] != "task.assigned" || data["id"] != "42" ||
		android["priority"] != "HIGH" || android["collapse_key"] != "roster-42" || !strings.HasSuffix(android["ttl"].(string), "s") {
		t.Fatalf("message: %s", got[0].Body)
	}
	if ttl := android["ttl"].(string); ttl != "3599s" && ttl != "3600s" {
		t.Fatalf("ttl %s", ttl)
	}
}

// TestErrorsAreClassified: UNREGISTERED is dead, INVALID_ARGUMENT
// permanent, QUOTA_EXCEEDED, UNAVAILABLE and INTERNAL temporary with the
// Retry-After asked for.
func TestErrorsAreClassified(t *testing.T) {
	srv := pushtest.NewFCM(t)
	c := newClient(t, srv)
	for _, tc := range []struct {
		answer pushtest.Answer
		kind   push.Kind
		retry  time.Duration
	}{
		{pushtest.Answer{Status: 404, Reason: "UNREGISTERED"}, push.Dead, 0},
		{pushtest.Answer{Status: 400, Reason: "INVALID_ARGUMENT"}, push.Permanent, 0},
		{pushtest.Answer{Status: 403, Reason: "SENDER_ID_MISMATCH"}, push.Permanent, 0},
		{pushtest.Answer{Status: 429, Reason: "QUOTA_EXCEEDED", RetryAfter: "30"}, push.Temporary, 30 * time.Second},
		{pushtest.Answer{Status: 503, Reason: "UNAVAILABLE", RetryAfter: "5"}, push.Temporary, 5 * time.Second},
		{pushtest.Answer{Status: 500, Reason: "INTERNAL"}, push.Temporary, 0},
	} {
		srv.Then(tc.answer)
		err := c.Send(context.Background(), message("tok-1"))
		var pe *push.Error
		if !errors.As(err, &pe) || pe.Kind != tc.kind || pe.RetryAfter != tc.retry || !strings.Contains(pe.Error(), tc.answer.Reason) {
			t.Errorf("%d %s: %#v", tc.answer.Status, tc.answer.Reason, pe)
		}
	}
	if len(srv.Received()) != 0 || len(srv.Violations()) > 0 {
		t.Fatalf("received %d, violations %v", len(srv.Received()), srv.Violations())
	}
}

// TestRefusedAccessTokenIsReplaced: a 401 (a revoked access token) is
// temporary and the next send asks for a new token.
func TestRefusedAccessTokenIsReplaced(t *testing.T) {
	srv := pushtest.NewFCM(t)
	c := newClient(t, srv)
	ctx := context.Background()
	if err := c.Send(ctx, message("tok-1")); err != nil {
		t.Fatal(err)
	}
	srv.RejectToken = strings.TrimPrefix(srv.Received()[0].Header.Get("Authorization"), "Bearer ")
	err := c.Send(ctx, message("tok-1"))
	if pe := push.Classify(err); err == nil || pe.Kind != push.Temporary {
		t.Fatalf("refused token: %v", err)
	}
	if err := c.Send(ctx, message("tok-1")); err != nil || srv.TokenRequests() != 2 {
		t.Fatalf("after a refused token: %v, %d token requests", err, srv.TokenRequests())
	}
}

// TestLongBodyIsCut: a body far over 4 KB arrives cut, with the
// ellipsis, the whole request within 4 KB.
func TestLongBodyIsCut(t *testing.T) {
	srv := pushtest.NewFCM(t)
	c := newClient(t, srv)
	m := message("tok-1")
	m.Body = strings.Repeat("Съешь же ещё этих мягких французских булок 👩‍👩‍👧‍👦🇺🇦. ", 100)
	if err := c.Send(context.Background(), m); err != nil {
		t.Fatal(err)
	}
	got := srv.Received()[0]
	body := got.Payload["message"].(map[string]any)["notification"].(map[string]any)["body"].(string)
	if len(got.Body) > push.MaxPayload || !strings.HasSuffix(body, push.Ellipsis) || !strings.HasPrefix(m.Body, strings.TrimSuffix(body, push.Ellipsis)) {
		t.Fatalf("%d bytes, body ends %q", len(got.Body), body[len(body)-20:])
	}
}

func TestNewRefusesBadCredentials(t *testing.T) {
	for _, creds := range []string{``, `{}`, `{"type":"service_account","project_id":"p"}`, `{"project_id":"p","private_key":"x","client_email":"a@b"}`} {
		if _, err := fcm.New(fcm.Config{Credentials: []byte(creds)}); err == nil {
			t.Errorf("credentials %s accepted", creds)
		}
	}
}
