package main

import (
	"context"
	"database/sql"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"syscall"
	"testing"
	"time"

	"roster/internal/app"
	"roster/internal/core"
	"roster/internal/notify"
	rosterservices "roster/internal/services"
	"roster/internal/services/servicetest"
	"roster/internal/store"
	"roster/internal/testenv"
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
	dir := t.TempDir()
	data := filepath.Join(dir, "data")
	dbURL := ""
	if engine == store.Postgres {
		dbURL = testenv.FreshPostgres(t)
	}
	bin := filepath.Join(dir, "roster")
	build := exec.Command(filepath.Join(runtime.GOROOT(), "bin", "go"), "build", "-o", bin, ".")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("build: %v\n%s", err, out)
	}

	const events, people = 10_000, 1
	db, err := store.Open(ctx, dbURL, data)
	if err != nil {
		t.Fatal(err)
	}
	if err := app.Migrate(ctx, db); err != nil {
		t.Fatal(err)
	}
	set := servicetest.New(t, rosterservices.Config{DB: db, Mail: mailDiscard{}})
	ws := &core.Workspace{Name: "Acme", Timezone: "UTC", Language: "en", Country: "US"}
	var users []*core.User
	err = db.InTx(ctx, func(q *store.Q) error {
		if err := q.CreateWorkspace(ctx, ws); err != nil {
			return err
		}
		for i := range people {
			u := &core.User{WorkspaceID: ws.ID, Name: fmt.Sprint("User ", i), Email: fmt.Sprintf("u%d@example.com", i), Language: "en",
				Timezone: "UTC", Role: core.RoleAdmin, State: core.StateActive, PasswordHash: "x"}
			if err := q.CreateUser(ctx, u); err != nil {
				return err
			}
			users = append(users, u)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	ids := []int64{users[0].ID}
	batch := make([]notify.EventInput, notify.MaxBatch)
	for i := 0; i < events; i += notify.MaxBatch {
		for j := range batch {
			batch[j] = notify.EventInput{Type: "system.report", Recipients: ids, Data: map[string]any{"title": fmt.Sprint("Report ", i+j)}}
		}
		if _, err := set.Notify.Intake(ctx, users[0], batch); err != nil {
			t.Fatal(err)
		}
	}
	count := func(table string) int {
		var n int
		if err := db.R.QueryRowContext(ctx, "SELECT COUNT(*) FROM "+table).Scan(&n); err != nil {
			t.Fatal(err)
		}
		return n
	}
	want := events * people

	serve := func() *exec.Cmd {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		addr := ln.Addr().String()
		ln.Close()
		cmd := exec.Command(bin, "serve", "--addr", addr, "--data", data, "--database-url", dbURL, "--job-rescue-after", "10s")
		cmd.Env = append(os.Environ(), "ROSTER_LOG_FORMAT=json")
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
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
	cmd := serve()
	defer func() { _ = cmd.Process.Kill(); _ = cmd.Wait() }()
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
