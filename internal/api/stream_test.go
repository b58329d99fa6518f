package api

import (
	"context"
	"encoding/json"
	"net/http"
	"reflect"
	"strconv"
	"strings"
	"testing"

	"roster/internal/core"
	"roster/internal/notify"
	"roster/internal/store"
	"roster/internal/store/storetest"
)

// TestStreamSendsWhatThisInstancePublished: a notification made on the
// stream's instance is sent from what the fan-out published, without
// reading the feed, and is the same as the list gives; an entry that does
// not follow the last one sent (another change not held here) makes the
// stream read its feed, and is not sent as it came.
func TestStreamSendsWhatThisInstancePublished(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		e := newEnv(t, db, envOpts{deps: roomy})
		bob := e.user("Acme", "Bob", "bob@example.com", core.RoleUser)
		tok := e.login(bob.Email)
		ctx := context.Background()
		r := e.openHelloStream(tok)

		stop := storetest.Queries(db)
		if _, err := e.notify.Intake(ctx, e.admin, []notify.EventInput{{Type: "system.report", Recipients: []int64{bob.ID},
			Data: map[string]any{"title": "Quarter", "url": "https://crm.example/r/1"}}}); err != nil {
			t.Fatal(err)
		}
		id, name, data := readEvent(t, r)
		for _, q := range stop() {
			if strings.Contains(q, "FROM notify_feed") || strings.Contains(q, "FROM notifications") {
				t.Errorf("the stream read what it was handed: %s", q)
			}
		}
		var streamed struct {
			Notification map[string]any `json:"notification"`
		}
		if err := json.Unmarshal([]byte(data), &streamed); err != nil || name != "new" {
			t.Fatalf("event %s %s: %v", name, data, err)
		}
		listed := e.do("GET", "/me/notifications", "", bearer(tok)).status(http.StatusOK).json()["items"].([]any)[0]
		if !reflect.DeepEqual(streamed.Notification, listed) {
			t.Fatalf("streamed %v\nlisted   %v", streamed.Notification, listed)
		}

		// An entry two past the last one sent: the stream reads its feed,
		// which does not have it, and sends nothing; the next real one
		// comes through.
		seq, _ := strconv.ParseInt(id, 10, 64)
		fake := &core.Notification{ID: 999999, Type: "system.report", Category: "system", Title: "Forged"}
		e.hub.Publish(ctx, []core.FeedEntry{{UserID: bob.ID, Seq: seq + 2, Kind: core.FeedNew, NotificationID: fake.ID, Unread: 9, Note: fake}})
		if _, err := e.notify.Intake(ctx, e.admin, []notify.EventInput{{Type: "system.report", Recipients: []int64{bob.ID},
			Data: map[string]any{"title": "Next"}}}); err != nil {
			t.Fatal(err)
		}
		id, name, data = readEvent(t, r)
		if name != "new" || !strings.Contains(data, "Next") || strings.Contains(data, "Forged") || id != strconv.FormatInt(seq+1, 10) {
			t.Fatalf("after a gap: %s %s %s", id, name, data)
		}
	})
}
