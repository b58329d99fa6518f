package main

import (
	"context"
	"database/sql"
	"os/exec"
	"syscall"
	"testing"
	"time"

	"roster/internal/store"
)

type mailDiscard struct{}

func (mailDiscard) EnqueueTx(context.Context, *sql.Tx, int64, string, string, string, map[string]any) error {
	return nil
}

// TestFanoutSurvivesKill posts 10,000 events to two people, starts a real
// `roster serve` process to fan them out, kills it with SIGKILL three times
// while it works, and restarts it: in the end every (event, person,
// channel) has exactly one delivery and every (event, person) exactly one
// notification, and the unread counts match the rows.
func TestFanoutSurvivesKill(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and kills a real process")
	}
	for _, engine := range []store.Engine{store.SQLite, store.Postgres} {
		t.Run(string(engine), func(t *testing.T) { crashRun(t, engine) })
	}
}

func crashRun(t *testing.T, engine store.Engine) {
	ctx := context.Background()
	_, data, dbURL, bin := procRun(t, engine)

	const events, people = 10_000, 1
	db, set, users := seeded(t, dbURL, data, people)
	postReports(t, set, users[0], users[0].ID, events)
	count := func(table string) int {
		var n int
		if err := db.R.QueryRowContext(ctx, "SELECT COUNT(*) FROM "+table).Scan(&n); err != nil {
			t.Fatal(err)
		}
		return n
	}
	want := events * people

	serve := func() *exec.Cmd {
		cmd, _ := serveRoster(t, bin, "--data", data, "--database-url", dbURL, "--job-rescue-after", "10s")
		return cmd
	}
	// Kill at three points of progress.
	for _, at := range []int{want / 10, want / 3, want * 2 / 3} {
		cmd := serve()
		deadline := time.Now().Add(3 * time.Minute)
		for count("notifications") < at {
			if time.Now().After(deadline) {
				_ = cmd.Process.Kill()
				t.Fatalf("no progress past %d notifications (at %d)", at, count("notifications"))
			}
			time.Sleep(20 * time.Millisecond)
		}
		if err := cmd.Process.Signal(syscall.SIGKILL); err != nil {
			t.Fatal(err)
		}
		_ = cmd.Wait()
		t.Logf("killed at %d of %d notifications, %d deliveries", count("notifications"), want, count("notify_deliveries"))
	}
	serve()
	deadline := time.Now().Add(4 * time.Minute)
	for count("notifications") < want || count("notify_deliveries") < want*4 {
		if time.Now().After(deadline) {
			t.Fatalf("after restart: %d notifications, %d deliveries; want %d and %d", count("notifications"), count("notify_deliveries"), want, want*4)
		}
		time.Sleep(50 * time.Millisecond)
	}
	var dupN, dupD, unread, rows int
	if err := db.R.QueryRowContext(ctx, "SELECT COUNT(*) FROM (SELECT event_id, user_id FROM notifications GROUP BY event_id, user_id HAVING COUNT(*) > 1) d").Scan(&dupN); err != nil {
		t.Fatal(err)
	}
	if err := db.R.QueryRowContext(ctx, "SELECT COUNT(*) FROM (SELECT event_id, user_id, channel FROM notify_deliveries GROUP BY event_id, user_id, channel HAVING COUNT(*) > 1) d").Scan(&dupD); err != nil {
		t.Fatal(err)
	}
	if err := db.R.QueryRowContext(ctx, "SELECT COALESCE(SUM(unread), 0) FROM notify_inbox").Scan(&unread); err != nil {
		t.Fatal(err)
	}
	if err := db.R.QueryRowContext(ctx, "SELECT COUNT(*) FROM notifications WHERE read_at IS NULL").Scan(&rows); err != nil {
		t.Fatal(err)
	}
	if n, d := count("notifications"), count("notify_deliveries"); n != want || d != want*4 || dupN != 0 || dupD != 0 || unread != rows {
		t.Fatalf("notifications %d (want %d, %d duplicated), deliveries %d (want %d, %d duplicated), unread counted %d of %d",
			n, want, dupN, d, want*4, dupD, unread, rows)
	}
	if engine == store.SQLite {
		var ok string
		if err := db.R.QueryRowContext(ctx, "PRAGMA integrity_check").Scan(&ok); err != nil || ok != "ok" {
			t.Fatalf("integrity_check: %q %v", ok, err)
		}
	}
}
