package mobile_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"roster/internal/core"
	"roster/internal/notify"
	"roster/internal/notify/mobile"
	"roster/internal/notify/mobile/apns"
	"roster/internal/notify/mobile/fcm"
	"roster/internal/notify/mobile/push"
	"roster/internal/notify/mobile/pushtest"
	"roster/internal/secrets"
	"roster/internal/store"
	"roster/internal/store/storetest"
)

const (
	androidToken = "dGVzdC1hbmRyb2lk:APA91bHPRgkF3JUikC4ENAHEeMrd41Zxv3hVZjC9KtT8OvPVGJ-hQMRKRrZuJAEcl7B338qju59zJMjw2DELjzEvxwYv7hH5Ynpc1ODQ0aT4U4OFEeco8ohsN5PjL1iC2dNtk2BAokeMCg2ZXKqpc8FXKmhX94kIxQ"
	iosFCMToken  = "aW9zLWZjbQ:APA91bE2x7Ew0a-kq3_l6fN1uJt2H9sY3cV1dQ8pP5oR4mZ0wX6yB7nA9sD2fG4hJ6kL8zXcVbNm1qW3eR5tY7uI9oP0aS2dF4gH6jK8lZ"
	apnsToken    = "0A1B2C3D4E5F60718293A4B5C6D7E8F90A1B2C3D4E5F60718293A4B5C6D7E8F9" // upper case: kept in lower case
)

type env struct {
	db      *store.DB
	box     *secrets.Box
	devices *mobile.Devices
	fcm     *pushtest.FCM
	apns    *pushtest.APNs
	ch      *mobile.Channel
	ws      *core.Workspace
	ana, bo *core.User
	other   *core.User // in another workspace
}

// newEnv makes two workspaces (Acme with Ana and Bo, Globex with Cy)
// and the channel with the providers asked for.
func newEnv(t testing.TB, db *store.DB, withFCM, withAPNs bool) *env {
	t.Helper()
	ctx := context.Background()
	box, err := secrets.Load("", t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	e := &env{db: db, box: box, devices: mobile.NewDevices(db, box)}
	mk := func(q *store.Q, ws *core.Workspace, name string) *core.User {
		u := &core.User{WorkspaceID: ws.ID, Name: name, Email: strings.ToLower(name) + "@example.com", Language: "en", Timezone: "UTC",
			Role: core.RoleUser, State: core.StateActive, PasswordHash: "x"}
		if err := q.CreateUser(ctx, u); err != nil {
			t.Fatal(err)
		}
		return u
	}
	if err := db.InTx(ctx, func(q *store.Q) error {
		e.ws = &core.Workspace{Name: "Acme", Timezone: "UTC", Language: "en", Country: "US"}
		globex := &core.Workspace{Name: "Globex", Timezone: "UTC", Language: "en", Country: "US"}
		if err := q.CreateWorkspace(ctx, e.ws); err != nil {
			return err
		}
		if err := q.CreateWorkspace(ctx, globex); err != nil {
			return err
		}
		e.ana, e.bo, e.other = mk(q, e.ws, "Ana"), mk(q, e.ws, "Bo"), mk(q, globex, "Cy")
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	cfg := mobile.Config{DB: db, Secrets: box, BaseURL: "https://roster.example", Logger: slog.New(slog.NewTextHandler(io.Discard, nil))}
	if withFCM {
		e.fcm = pushtest.NewFCM(t)
		c, err := fcm.New(fcm.Config{Credentials: e.fcm.Credentials, Endpoint: e.fcm.URL, HTTP: push.ClientConfig{RootCAs: e.fcm.RootCAs}})
		if err != nil {
			t.Fatal(err)
		}
		cfg.FCM = c
	}
	if withAPNs {
		e.apns = pushtest.NewAPNs(t)
		c, err := apns.New(apns.Config{Key: e.apns.Key, KeyID: e.apns.KeyID, TeamID: e.apns.TeamID, Topic: e.apns.Topic,
			Endpoint: e.apns.URL, HTTP: push.ClientConfig{RootCAs: e.apns.RootCAs}})
		if err != nil {
			t.Fatal(err)
		}
		cfg.APNs = c
	}
	if e.ch, err = mobile.New(cfg); err != nil {
		t.Fatal(err)
	}
	return e
}

func (e *env) register(t testing.TB, u *core.User, platform, token string) *core.MobileDevice {
	t.Helper()
	d, err := e.devices.Register(context.Background(), u, mobile.RegisterInput{Platform: platform, Token: token, AppVersion: "3.1.0", Locale: "es-MX"})
	if err != nil {
		t.Fatal(err)
	}
	return d
}

func (e *env) message(u *core.User, id int64) *notify.Message {
	return &notify.Message{User: u, Delivery: &core.Delivery{ID: id, UserID: u.ID, WorkspaceID: u.WorkspaceID, Channel: "mobile"},
		Notification: &core.Notification{ID: id, Type: "task.assigned", Category: "tasks", Title: "New task: Call Globex",
			Body: "Ana assigned it to you", CreatedAt: time.Now()}}
}

func (e *env) deviceCount(t *testing.T, u *core.User) int {
	t.Helper()
	list, err := e.devices.List(context.Background(), u)
	if err != nil {
		t.Fatal(err)
	}
	return len(list)
}

func checkServers(t *testing.T, e *env) {
	t.Helper()
	if e.fcm != nil && len(e.fcm.Violations()) > 0 {
		t.Fatalf("FCM violations: %v", e.fcm.Violations())
	}
	if e.apns != nil && len(e.apns.Violations()) > 0 {
		t.Fatalf("APNs violations: %v", e.apns.Violations())
	}
}

// TestRegisterValidatesAndMoves: bad input is refused field by field and
// stores nothing; the same token registered again updates its one row,
// also when it moves to another person or workspace; the token is stored
// sealed, never in clear.
func TestRegisterValidatesAndMoves(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		e := newEnv(t, db, true, false)
		for name, c := range map[string]struct {
			in     mobile.RegisterInput
			fields []string
		}{
			"platform":        {mobile.RegisterInput{Platform: "windows", Token: androidToken}, []string{"platform"}},
			"empty token":     {mobile.RegisterInput{Platform: "android"}, []string{"token"}},
			"long token":      {mobile.RegisterInput{Platform: "android", Token: strings.Repeat("a", mobile.MaxTokenBytes+1)}, []string{"token"}},
			"token chars":     {mobile.RegisterInput{Platform: "ios", Token: "abc/../def"}, []string{"token"}},
			"token space":     {mobile.RegisterInput{Platform: "ios", Token: "abc def"}, []string{"token"}},
			"locale":          {mobile.RegisterInput{Platform: "android", Token: androidToken, Locale: "de-DE"}, []string{"locale"}},
			"app version":     {mobile.RegisterInput{Platform: "android", Token: androidToken, AppVersion: strings.Repeat("9", 65)}, []string{"app_version"}},
			"several at once": {mobile.RegisterInput{Platform: "", Token: "", Locale: "xx"}, []string{"platform", "token", "locale"}},
		} {
			_, err := e.devices.Register(ctx, e.ana, c.in)
			ce := core.AsError(err)
			if ce == nil || ce.Code != core.EINVALID || len(ce.Fields) != len(c.fields) {
				t.Errorf("%s: %v", name, err)
				continue
			}
			for i, f := range c.fields {
				if ce.Fields[i].Field != f || !strings.HasPrefix(ce.Fields[i].Key, "mobile.error.") && ce.Fields[i].Key != "errors.field.too_long" {
					t.Errorf("%s: field %d is %+v, want %s", name, i, ce.Fields[i], f)
				}
			}
		}
		if e.deviceCount(t, e.ana) != 0 {
			t.Fatal("refused registrations stored a device")
		}

		first := e.register(t, e.ana, "android", androidToken)
		if first.Locale != "es" || first.Provider != core.ProviderFCM || first.AppVersion != "3.1.0" {
			t.Fatalf("registered %+v", first)
		}
		ios := e.register(t, e.ana, "ios", apnsToken)
		if ios.Provider != core.ProviderAPNs || ios.Token != strings.ToLower(apnsToken) {
			t.Fatalf("APNs token: %+v", ios)
		}
		if d := e.register(t, e.ana, "ios", iosFCMToken); d.Provider != core.ProviderFCM {
			t.Fatalf("an iOS FCM token went to %s", d.Provider)
		}
		// Again, by Ana: the same row.
		again := e.register(t, e.ana, "android", androidToken)
		if again.ID != first.ID || e.deviceCount(t, e.ana) != 3 {
			t.Fatalf("re-registration made a second row: %d vs %d", again.ID, first.ID)
		}
		// The same token on another platform is another device.
		otherPlatform := e.register(t, e.ana, "ios", androidToken)
		if otherPlatform.ID == first.ID || e.deviceCount(t, e.ana) != 4 {
			t.Fatalf("another platform: %d", otherPlatform.ID)
		}
		if err := e.devices.Remove(ctx, e.ana, otherPlatform.ID); err != nil {
			t.Fatal(err)
		}
		// The phone changes hands: Bo registers it, Ana no longer has it.
		moved := e.register(t, e.bo, "android", androidToken)
		if moved.ID != first.ID || e.deviceCount(t, e.ana) != 2 || e.deviceCount(t, e.bo) != 1 {
			t.Fatalf("moved to Bo: id %d, Ana %d, Bo %d", moved.ID, e.deviceCount(t, e.ana), e.deviceCount(t, e.bo))
		}
		// ... and to another workspace.
		e.register(t, e.other, "android", androidToken)
		if e.deviceCount(t, e.bo) != 0 || e.deviceCount(t, e.other) != 1 {
			t.Fatal("not moved to the other workspace")
		}
		// Sealed: no column holds the token in clear.
		rows, err := db.R.Query("SELECT token_hash, token_sealed FROM mobile_devices")
		if err != nil {
			t.Fatal(err)
		}
		defer rows.Close()
		for rows.Next() {
			var hash, sealed []byte
			if err := rows.Scan(&hash, &sealed); err != nil {
				t.Fatal(err)
			}
			for _, tok := range []string{androidToken, apnsToken, strings.ToLower(apnsToken), iosFCMToken} {
				if bytes.Contains(sealed, []byte(tok)) || bytes.Contains(hash, []byte(tok)) {
					t.Fatal("a token is stored in clear")
				}
			}
		}
	})
}

// TestConcurrentRegistrationsLeaveOneRow: many registrations of one
// token at once, by two people, leave one row.
func TestConcurrentRegistrationsLeaveOneRow(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		e := newEnv(t, db, true, false)
		var wg sync.WaitGroup
		for i := range 20 {
			u := e.ana
			if i%2 == 1 {
				u = e.bo
			}
			wg.Go(func() {
				if _, err := e.devices.Register(context.Background(), u, mobile.RegisterInput{Platform: "android", Token: androidToken}); err != nil {
					t.Error(err)
				}
			})
		}
		wg.Wait()
		var n int
		if err := db.R.QueryRow("SELECT COUNT(*) FROM mobile_devices").Scan(&n); err != nil || n != 1 {
			t.Fatalf("%d rows, %v", n, err)
		}
	})
}

// TestRemoveIsTenantSafe: a device of another person, or of another
// workspace, does not exist for the caller.
func TestRemoveIsTenantSafe(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		e := newEnv(t, db, true, false)
		anas := e.register(t, e.ana, "android", androidToken)
		cys := e.register(t, e.other, "ios", apnsToken)
		for _, c := range []struct {
			u  *core.User
			id int64
		}{{e.bo, anas.ID}, {e.ana, cys.ID}, {e.other, anas.ID}, {e.ana, 999999}} {
			if err := e.devices.Remove(ctx, c.u, c.id); !errors.Is(err, core.ErrNotFound) {
				t.Errorf("user %d removing %d: %v", c.u.ID, c.id, err)
			}
		}
		if e.deviceCount(t, e.ana) != 1 || e.deviceCount(t, e.other) != 1 {
			t.Fatal("a device was removed by someone else")
		}
		if err := e.devices.Remove(ctx, e.ana, anas.ID); err != nil || e.deviceCount(t, e.ana) != 0 {
			t.Fatalf("own device: %v", err)
		}
	})
}

// TestReach: a person is reached when a configured provider serves one
// of their devices.
func TestReachFCMOnly(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		onlyFCM := newEnv(t, db, true, false)
		onlyFCM.register(t, onlyFCM.ana, "ios", apnsToken)
		onlyFCM.register(t, onlyFCM.other, "android", androidToken)
		users := []*core.User{onlyFCM.ana, onlyFCM.bo, onlyFCM.other}
		got, err := onlyFCM.ch.Reach(ctx, db.Reader(), users)
		if err != nil || got[onlyFCM.ana.ID] != notify.UnusableNoDevice || got[onlyFCM.bo.ID] != notify.UnusableNoDevice || got[onlyFCM.other.ID] != "" {
			t.Fatalf("FCM only: %v %v", got, err)
		}
		onlyFCM.register(t, onlyFCM.ana, "ios", iosFCMToken) // the app built with the Firebase SDK
		if got, _ := onlyFCM.ch.Reach(ctx, db.Reader(), users); got[onlyFCM.ana.ID] != "" {
			t.Fatalf("an iOS FCM token does not reach: %v", got)
		}
	})
}

// TestReachAPNsOnly: without FCM, Android phones are not reached.
func TestReachAPNsOnly(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		onlyAPNs := newEnv(t, db, false, true)
		onlyAPNs.register(t, onlyAPNs.ana, "android", androidToken)
		onlyAPNs.register(t, onlyAPNs.bo, "ios", apnsToken)
		got, err := onlyAPNs.ch.Reach(context.Background(), db.Reader(), []*core.User{onlyAPNs.ana, onlyAPNs.bo})
		if err != nil || got[onlyAPNs.ana.ID] != notify.UnusableNoDevice || got[onlyAPNs.bo.ID] != "" {
			t.Fatalf("APNs only: %v %v", got, err)
		}
	})
}

func sendErr(err error) *notify.SendError {
	var se *notify.SendError
	if errors.As(err, &se) {
		return se
	}
	if err != nil {
		return &notify.SendError{Err: err}
	}
	return nil
}

// TestSendToEveryDevice: every device of the person gets the message
// through its provider; the delivery is sent when any took it, retried
// when all failed for now (after the longest Retry-After), failed when
// all failed for good, Dead when all were gone, which are removed.
func TestSendToEveryDevice(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		e := newEnv(t, db, true, true)
		e.register(t, e.ana, "android", androidToken)
		e.register(t, e.ana, "ios", apnsToken)
		if err := e.ch.Send(ctx, e.message(e.ana, 1)); err != nil {
			t.Fatal(err)
		}
		if len(e.fcm.Received()) != 1 || len(e.apns.Received()) != 1 || e.apns.Received()[0].Token != strings.ToLower(apnsToken) {
			t.Fatalf("FCM %d, APNs %d", len(e.fcm.Received()), len(e.apns.Received()))
		}
		fm := e.fcm.Received()[0].Payload["message"].(map[string]any)
		if fm["token"] != androidToken || fm["data"].(map[string]any)["url"] != "https://roster.example/notifications" ||
			fm["android"].(map[string]any)["priority"] != "NORMAL" || fm["android"].(map[string]any)["collapse_key"] != "roster-1" {
			t.Fatalf("FCM message: %s", e.fcm.Received()[0].Body)
		}
		list, _ := e.devices.List(ctx, e.ana)
		for _, d := range list {
			if d.LastUsedAt.IsZero() {
				t.Fatalf("device %d: last use not recorded", d.ID)
			}
		}
		// One fails for now, the other takes it: retried, so the busy
		// one gets it too (the other again, under the same collapse id).
		e.apns.Then(pushtest.Answer{Status: 500, Reason: "InternalServerError"})
		if se := sendErr(e.ch.Send(ctx, e.message(e.ana, 2))); se == nil || se.Permanent || se.Dead {
			t.Fatalf("one device took it, one busy: %+v", se)
		}
		if err := e.ch.Send(ctx, e.message(e.ana, 2)); err != nil {
			t.Fatalf("the retry: %v", err)
		}
		// Both fail for now: retried after the longest Retry-After.
		e.fcm.Then(pushtest.Answer{Status: 429, Reason: "QUOTA_EXCEEDED", RetryAfter: "3"})
		e.apns.Then(pushtest.Answer{Status: 429, Reason: "TooManyRequests", RetryAfter: "7"})
		se := sendErr(e.ch.Send(ctx, e.message(e.ana, 3)))
		if se == nil || se.Permanent || se.Dead || se.RetryAfter != 7*time.Second {
			t.Fatalf("both busy: %+v", se)
		}
		// One for good, one for now: retried.
		e.fcm.Then(pushtest.Answer{Status: 400, Reason: "INVALID_ARGUMENT"})
		e.apns.Then(pushtest.Answer{Status: 503, Reason: "ServiceUnavailable"})
		if se := sendErr(e.ch.Send(ctx, e.message(e.ana, 4))); se == nil || se.Permanent || se.Dead {
			t.Fatalf("permanent + temporary: %+v", se)
		}
		// Both for good: failed, both reasons in the error, devices kept.
		e.fcm.Then(pushtest.Answer{Status: 400, Reason: "INVALID_ARGUMENT"})
		e.apns.Then(pushtest.Answer{Status: 413, Reason: "PayloadTooLarge"})
		se = sendErr(e.ch.Send(ctx, e.message(e.ana, 5)))
		if se == nil || !se.Permanent || !strings.Contains(se.Error(), "INVALID_ARGUMENT") || !strings.Contains(se.Error(), "PayloadTooLarge") ||
			e.deviceCount(t, e.ana) != 2 {
			t.Fatalf("both permanent: %+v", se)
		}
		// One gone, the other takes it: sent, the gone one removed.
		e.fcm.Then(pushtest.Answer{Status: 404, Reason: "UNREGISTERED"})
		if err := e.ch.Send(ctx, e.message(e.ana, 6)); err != nil || e.deviceCount(t, e.ana) != 1 {
			t.Fatalf("one gone: %v, %d devices", err, e.deviceCount(t, e.ana))
		}
		// The last one gone: Dead, and no device left.
		e.apns.Then(pushtest.Answer{Status: 400, Reason: "BadDeviceToken"})
		if se := sendErr(e.ch.Send(ctx, e.message(e.ana, 7))); se == nil || !se.Dead || e.deviceCount(t, e.ana) != 0 {
			t.Fatalf("all gone: %+v, %d devices", se, e.deviceCount(t, e.ana))
		}
		// Nobody to send to: permanent.
		if se := sendErr(e.ch.Send(ctx, e.message(e.ana, 8))); se == nil || !se.Permanent {
			t.Fatalf("no device: %+v", se)
		}
		checkServers(t, e)
	})
}

// TestAPNsGoneSinceTimestamp: 410 removes the device unless it registered
// again after the time APNs reports.
func TestAPNsGoneSinceTimestamp(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		e := newEnv(t, db, false, true)
		dev := e.register(t, e.ana, "ios", apnsToken)
		// APNs says the token died before it was registered (again): kept,
		// and this delivery fails.
		e.apns.Then(pushtest.Answer{Status: 410, Reason: "Unregistered", Timestamp: dev.RegisteredAt.Add(-time.Minute)})
		se := sendErr(e.ch.Send(ctx, e.message(e.ana, 1)))
		if se == nil || !se.Permanent || se.Dead || e.deviceCount(t, e.ana) != 1 {
			t.Fatalf("re-registered since: %+v, %d devices", se, e.deviceCount(t, e.ana))
		}
		// ... and since its registration: removed.
		e.apns.Then(pushtest.Answer{Status: 410, Reason: "Unregistered", Timestamp: dev.RegisteredAt.Add(time.Minute)})
		if se := sendErr(e.ch.Send(ctx, e.message(e.ana, 2))); se == nil || !se.Dead || e.deviceCount(t, e.ana) != 0 {
			t.Fatalf("gone since: %+v, %d devices", se, e.deviceCount(t, e.ana))
		}
		checkServers(t, e)
	})
}

// TestExpiredCallIsNotSent: a ringing call that could not be pushed
// within its lifetime is not pushed later.
func TestExpiredCallIsNotSent(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		e := newEnv(t, db, true, false)
		e.register(t, e.ana, "android", androidToken)
		m := e.message(e.ana, 1)
		m.Notification.Type, m.Notification.Category, m.Notification.CreatedAt = "call.incoming", "calls", time.Now().Add(-notify.PushCallTTL-time.Second)
		if se := sendErr(e.ch.Send(context.Background(), m)); se == nil || !se.Permanent || len(e.fcm.Received()) != 0 {
			t.Fatalf("stale call: %+v", se)
		}
		m.Notification.CreatedAt = time.Now()
		if err := e.ch.Send(context.Background(), m); err != nil {
			t.Fatal(err)
		}
		if got := e.fcm.Received()[0].Payload["message"].(map[string]any)["android"].(map[string]any); got["priority"] != "HIGH" ||
			got["ttl"] != fmt.Sprintf("%ds", int(notify.PushCallTTL/time.Second)) && got["ttl"] != fmt.Sprintf("%ds", int(notify.PushCallTTL/time.Second)-1) {
			t.Fatalf("call: %v", got)
		}
	})
}
