package main

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
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

// The helpers of the tests that run real `roster serve` processes.

// buildRoster builds the roster binary into dir.
func buildRoster(t *testing.T, dir string) string {
	t.Helper()
	bin := filepath.Join(dir, "roster")
	build := exec.Command(filepath.Join(runtime.GOROOT(), "bin", "go"), "build", "-o", bin, ".")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("build: %v\n%s", err, out)
	}
	return bin
}

// procRun is the ground of a test of real processes on engine: a folder,
// the data folder in it, the database URL ("" for SQLite in the data
// folder) and the built binary.
func procRun(t *testing.T, engine store.Engine) (dir, data, dbURL, bin string) {
	t.Helper()
	dir = t.TempDir()
	data = filepath.Join(dir, "data")
	if engine == store.Postgres {
		dbURL = testenv.FreshPostgres(t)
	}
	return dir, data, dbURL, buildRoster(t, dir)
}

// seeded opens the database at dbURL (SQLite in data when empty),
// migrates it and makes a workspace of n active people, the first an
// admin; it returns the database, the services on it and the people.
func seeded(t *testing.T, dbURL, data string, n int) (*store.DB, *rosterservices.Set, []*core.User) {
	t.Helper()
	ctx := context.Background()
	db, err := store.Open(ctx, dbURL, data)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	if err := app.Migrate(ctx, db); err != nil {
		t.Fatal(err)
	}
	set := servicetest.New(t, rosterservices.Config{DB: db, Mail: mailDiscard{}})
	ws := &core.Workspace{Name: "Acme", Timezone: "UTC", Language: "en", Country: "US"}
	var people []*core.User
	err = db.InTx(ctx, func(q *store.Q) error {
		if err := q.CreateWorkspace(ctx, ws); err != nil {
			return err
		}
		for i := range n {
			role := core.RoleUser
			if i == 0 {
				role = core.RoleAdmin // the integration's token user
			}
			u := &core.User{WorkspaceID: ws.ID, Name: fmt.Sprint("Person ", i), Email: fmt.Sprintf("p%d@example.com", i), Language: "en",
				Timezone: "UTC", Role: role, State: core.StateActive, PasswordHash: "x"}
			if err := q.CreateUser(ctx, u); err != nil {
				return err
			}
			people = append(people, u)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return db, set, people
}

// postReports takes in n system reports from admin to recipient, in
// full batches.
func postReports(t *testing.T, set *rosterservices.Set, admin *core.User, recipient int64, n int) {
	t.Helper()
	batch := make([]notify.EventInput, notify.MaxBatch)
	for i := 0; i < n; i += notify.MaxBatch {
		for j := range batch {
			batch[j] = notify.EventInput{Type: "system.report", Recipients: []int64{recipient}, Data: map[string]any{"title": fmt.Sprint("Report ", i+j)}}
		}
		if _, err := set.Notify.Intake(context.Background(), admin, batch); err != nil {
			t.Fatal(err)
		}
	}
}

// serveRoster starts `roster serve` from bin on a free port with args
// and waits until it is ready; it returns the process and its address.
// The process is killed when the test ends, if it still runs.
func serveRoster(t *testing.T, bin string, args ...string) (*exec.Cmd, string) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	cmd := exec.Command(bin, append([]string{"serve", "--addr", addr}, args...)...)
	cmd.Env = append(os.Environ(), "ROSTER_LOG_FORMAT=json")
	logs := &syncBuffer{}
	cmd.Stdout, cmd.Stderr = logs, logs
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = cmd.Process.Kill(); _ = cmd.Wait() })
	deadline := time.Now().Add(30 * time.Second)
	for {
		if res, err := http.Get("http://" + addr + "/readyz"); err == nil {
			res.Body.Close()
			if res.StatusCode == http.StatusOK {
				return cmd, addr
			}
		}
		if time.Now().After(deadline) {
			_ = cmd.Process.Kill()
			t.Fatalf("roster serve not ready in 30 s:\n%s", logs.String())
		}
		time.Sleep(20 * time.Millisecond)
	}
}
