package main

import (
	"context"
	"net/http"
	"os/exec"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	"roster/internal/notify"
	"roster/internal/testenv"
)

// TestSecondInstanceFinishesFanout: two `roster serve` processes share one
// PostgreSQL database. The first is alone while 5,000 events to one person
// and one event to all 2,000 people of the workspace fan out; once a share
// is done the second starts and the first is killed with SIGKILL in the
// middle of its jobs. The second finishes them (the killed one's running
// jobs are rescued after --job-rescue-after): every (event, person) has
// exactly one notification, every (event, person, channel) one delivery,
// and the unread counts match the rows.
func TestSecondInstanceFinishesFanout(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and kills real processes")
	}
	ctx := context.Background()
	dbURL := testenv.FreshPostgres(t)
	dir := t.TempDir()
	bin := buildRoster(t, dir)

	const named, people = 5_000, 2_000
	db, set, users := seeded(t, dbURL, filepath.Join(dir, "setup"), people)
	first := users[0]
	postReports(t, set, first, first.ID, named)
	if _, err := set.Notify.Intake(ctx, first, []notify.EventInput{{Type: "system.report", AllUsers: true, Data: map[string]any{"title": "To all"}}}); err != nil {
		t.Fatal(err)
	}
	count := func(query string) int {
		var n int
		if err := db.R.QueryRowContext(ctx, query).Scan(&n); err != nil {
			t.Fatal(err)
		}
		return n
	}
	want := named + people

	// Each instance its own data folder; the secret key is shared, as
	// README asks of instances on one database.
	serve := func(name string) (*exec.Cmd, string) {
		return serveRoster(t, bin, "--data", filepath.Join(dir, name), "--database-url", dbURL,
			"--job-rescue-after", "3s", "--secret-key", "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=")
	}
	a, _ := serve("a")
	deadline := time.Now().Add(2 * time.Minute)
	// Killed mid-fan-out, while a fan-out job runs when the poll sees one
	// (the second must then rescue it after --job-rescue-after, as well as
	// take the jobs still waiting), else at two thirds.
	for n := count("SELECT COUNT(*) FROM notifications"); n < want/3 ||
		(n < 2*want/3 && count("SELECT COUNT(*) FROM river_job WHERE kind = 'notify.fanout' AND state = 'running'") == 0); n = count("SELECT COUNT(*) FROM notifications") {
		if time.Now().After(deadline) {
			t.Fatalf("no progress: %d of %d notifications", count("SELECT COUNT(*) FROM notifications"), want)
		}
		time.Sleep(10 * time.Millisecond)
	}
	if err := a.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	_ = a.Wait()
	// Killed before the second starts, so what is left is the first's
	// unfinished work and must be left: else the test proves nothing.
	running, done := count("SELECT COUNT(*) FROM river_job WHERE state = 'running'"), count("SELECT COUNT(*) FROM notifications")
	t.Logf("first instance killed at %d of %d notifications, %d jobs left running", done, want, running)
	if done >= want {
		t.Fatalf("the first instance was killed with nothing left to do: %d of %d notifications", done, want)
	}
	_, addrB := serve("b")

	deadline = time.Now().Add(3 * time.Minute)
	for count("SELECT COUNT(*) FROM notifications") < want || count("SELECT COUNT(*) FROM notify_deliveries") < want*4 ||
		count("SELECT COUNT(*) FROM river_job WHERE kind = 'notify.fanout' AND state NOT IN ('completed', 'discarded', 'cancelled')") > 0 {
		if time.Now().After(deadline) {
			t.Fatalf("the second instance did not finish: %d of %d notifications, %d of %d deliveries", count("SELECT COUNT(*) FROM notifications"), want,
				count("SELECT COUNT(*) FROM notify_deliveries"), want*4)
		}
		time.Sleep(50 * time.Millisecond)
	}
	if res, err := http.Get("http://" + addrB + "/readyz"); err != nil || res.StatusCode != http.StatusOK {
		t.Fatalf("the second instance after finishing: %v", err)
	}
	dupN := count("SELECT COUNT(*) FROM (SELECT event_id, user_id FROM notifications GROUP BY event_id, user_id HAVING COUNT(*) > 1) d")
	dupD := count("SELECT COUNT(*) FROM (SELECT event_id, user_id, channel FROM notify_deliveries GROUP BY event_id, user_id, channel HAVING COUNT(*) > 1) d")
	unread := count("SELECT COALESCE(SUM(unread), 0) FROM notify_inbox")
	rows := count("SELECT COUNT(*) FROM notifications WHERE read_at IS NULL")
	discarded := count("SELECT COUNT(*) FROM river_job WHERE kind = 'notify.fanout' AND state = 'discarded'")
	if n, d := count("SELECT COUNT(*) FROM notifications"), count("SELECT COUNT(*) FROM notify_deliveries"); n != want || d != want*4 ||
		dupN != 0 || dupD != 0 || unread != rows || discarded != 0 {
		t.Fatalf("notifications %d (want %d, %d twice), deliveries %d (want %d, %d twice), unread counted %d of %d, %d fan-outs discarded",
			n, want, dupN, d, want*4, dupD, unread, rows, discarded)
	}
}
