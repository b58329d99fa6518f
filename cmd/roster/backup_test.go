package main

import (
	"context"
	"database/sql"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"roster/internal/account"
	"roster/internal/app"
	"roster/internal/core"
	"roster/internal/profile"
	"roster/internal/store"
)

// TestBackupUnderWriteLoad: `roster backup` copies the database while 8
// people keep saving numbered names through the profile service; the copy,
// put into a new data folder by `roster restore`, holds for each person the
// last name acknowledged before the backup began (or a later one), passes
// integrity_check, and `roster` opens and migrates it.
func TestBackupUnderWriteLoad(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	data := filepath.Join(dir, "data")
	a, err := app.Open(ctx, app.Config{DataDir: data}, slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	setup, err := a.Accounts.Setup(ctx, account.SetupInput{Workspace: "Acme", Name: "Ana", Email: "ana@example.com", Password: "tangerine-violin"})
	if err != nil {
		t.Fatal(err)
	}
	people := []*core.User{setup.User}
	for i := range 7 {
		u, err := a.Accounts.CreateUser(ctx, account.CreateUserInput{Workspace: "Acme", Name: "Writer", Email: fmt.Sprintf("w%d@example.com", i), Password: "tangerine-violin"})
		if err != nil {
			t.Fatal(err)
		}
		people = append(people, u)
	}

	acked := make([]atomic.Int64, len(people)) // the last number saved and acknowledged, per person
	stop := make(chan struct{})
	var wg sync.WaitGroup
	for i, u := range people {
		wg.Go(func() {
			for n := int64(1); ; n++ {
				select {
				case <-stop:
					return
				default:
				}
				name := fmt.Sprintf("Writer %d", n)
				if _, err := a.Profiles.Update(ctx, u, u.ID, profile.Changes{Name: &name}, ""); err != nil {
					t.Errorf("save: %v", err)
					return
				}
				acked[i].Store(n)
			}
		})
	}
	// Let the writers run, then take each one's mark just before the backup.
	for i := range acked {
		for acked[i].Load() < 20 {
			if t.Failed() {
				t.FailNow()
			}
			time.Sleep(time.Millisecond)
		}
	}
	marks := make([]int64, len(people))
	for i := range acked {
		marks[i] = acked[i].Load()
	}
	file := filepath.Join(dir, "roster-backup.db")
	out, errOut, err := run(t, "", "backup", "--data", data, "--to", file)
	close(stop)
	wg.Wait()
	if err != nil {
		t.Fatalf("backup: %v\n%s", err, errOut)
	}
	if !strings.Contains(out, "secret.key") || !strings.Contains(out, filepath.Join(data, "files")) {
		t.Errorf("backup does not say what else to keep:\n%s", out)
	}
	for i := range acked {
		if acked[i].Load() <= marks[i] {
			t.Fatalf("person %d saved nothing while the backup ran: the test proves nothing", i)
		}
	}

	restored := filepath.Join(dir, "restored")
	if _, errOut, err := run(t, "", "restore", "--from", file, "--data", restored); err != nil {
		t.Fatalf("restore: %v\n%s", err, errOut)
	}
	db, err := sql.Open("sqlite", "file:"+filepath.Join(restored, store.SQLiteFile)+"?mode=ro")
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	for i, u := range people {
		var name string
		if err := db.QueryRowContext(ctx, "SELECT name FROM users WHERE id = ?", u.ID).Scan(&name); err != nil {
			t.Fatal(err)
		}
		var n int64
		if _, err := fmt.Sscanf(name, "Writer %d", &n); err != nil || n < marks[i] {
			t.Errorf("person %d: the copy has %q, but %d was acknowledged before the backup began", i, name, marks[i])
		}
	}
	if _, errOut, err := run(t, "", "migrate", "--data", restored); err != nil {
		t.Fatalf("roster does not open the restored database: %v\n%s", err, errOut)
	}
}

// TestBackupAndRestoreRefuse: nothing is overwritten, and what is not a
// whole Roster database of a schema this Roster knows is not restored.
func TestBackupAndRestoreRefuse(t *testing.T) {
	dir := t.TempDir()
	data := filepath.Join(dir, "data")
	if _, errOut, err := run(t, "", "migrate", "--data", data); err != nil {
		t.Fatalf("migrate: %v\n%s", err, errOut)
	}
	good := filepath.Join(dir, "good.db")
	if _, errOut, err := run(t, "", "backup", "--data", data, "--to", good); err != nil {
		t.Fatalf("backup: %v\n%s", err, errOut)
	}
	newer := filepath.Join(dir, "newer.db")
	if _, _, err := run(t, "", "backup", "--data", data, "--to", newer); err != nil {
		t.Fatal(err)
	}
	db, err := sql.Open("sqlite", "file:"+newer)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := db.Exec("INSERT INTO goose_db_version (version_id, is_applied) VALUES (99999, 1)"); err != nil {
		t.Fatal(err)
	}
	db.Close()
	junk := filepath.Join(dir, "junk.db")
	if err := os.WriteFile(junk, []byte("not a database at all, just some text"), 0o600); err != nil {
		t.Fatal(err)
	}
	goodBytes, _ := os.ReadFile(good)

	for _, c := range []struct {
		name string
		args []string
		want string
	}{
		{"backup over an existing file", []string{"backup", "--data", data, "--to", good}, "already exists"},
		{"backup of a folder without a database", []string{"backup", "--data", filepath.Join(dir, "none"), "--to", filepath.Join(dir, "x.db")}, "no Roster database"},
		{"backup on PostgreSQL", []string{"backup", "--database-url", "postgres://nobody@127.0.0.1:1/none", "--to", filepath.Join(dir, "y.db")}, "pg_dump"},
		{"restore over a database", []string{"restore", "--from", good, "--data", data}, "already holds a database"},
		{"restore of a file that is no database", []string{"restore", "--from", junk, "--data", filepath.Join(dir, "r1")}, "not a SQLite database"},
		{"restore of a newer schema", []string{"restore", "--from", newer, "--data", filepath.Join(dir, "r2")}, "newer than this Roster knows"},
	} {
		_, errOut, err := run(t, "", c.args...)
		if err == nil || !strings.Contains(err.Error()+errOut, c.want) {
			t.Errorf("%s: %v %s", c.name, err, errOut)
		}
	}
	if after, _ := os.ReadFile(good); string(after) != string(goodBytes) {
		t.Error("a refused backup changed the existing file")
	}
	for _, d := range []string{"r1", "r2"} {
		if _, err := os.Stat(filepath.Join(dir, d, store.SQLiteFile)); err == nil {
			t.Errorf("a refused restore left a database in %s", d)
		}
	}
}
