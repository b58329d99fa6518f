package jobs

import (
	"testing"
	"time"
)

// TestOnlyNotifyPollsFast: with a poll interval (SQLite), QueueNotify polls
// at it and the other queues SlowPollFactor times less often; without one
// (PostgreSQL, told of new jobs by NOTIFY) River's defaults stand.
func TestOnlyNotifyPollsFast(t *testing.T) {
	const poll = 50 * time.Millisecond
	for _, queues := range []map[string]int{nil, {QueueDefault: 2, QueueNotify: 3, "other": 1}} {
		got := queueConfigs(Config{FetchPollInterval: poll, Queues: queues})
		if len(got) != max(3, len(queues)) {
			t.Fatalf("queues %v: %d configured", queues, len(got))
		}
		for name, q := range got {
			want := SlowPollFactor * poll
			if name == QueueNotify {
				want = 0 // the client's interval
			}
			if q.FetchPollInterval != want {
				t.Errorf("queues %v: %s polls every %v, want %v", queues, name, q.FetchPollInterval, want)
			}
		}
	}
	for name, q := range queueConfigs(Config{}) {
		if q.FetchPollInterval != 0 {
			t.Errorf("no interval: %s polls every %v", name, q.FetchPollInterval)
		}
	}
}
