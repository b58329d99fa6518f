package store_test

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"roster/internal/core"
	"roster/internal/store"
	"roster/internal/store/storetest"
	"roster/internal/testenv"
)

func seed(t *testing.T, db *store.DB) (*core.Workspace, *core.User) {
	t.Helper()
	ctx := context.Background()
	ws := &core.Workspace{Name: "Acme", Timezone: "Europe/Madrid", Language: "es"}
	u := &core.User{Name: "Ana", Email: "ana@example.com", PasswordHash: "h", Role: core.RoleAdmin,
		Rights: []core.Right{core.RightProfileAccess}, State: core.StateActive, Language: "es", Timezone: "Europe/Madrid"}
	err := db.InTx(ctx, func(q *store.Q) error {
		if err := q.CreateWorkspace(ctx, ws); err != nil {
			return err
		}
		u.WorkspaceID = ws.ID
		return q.CreateUser(ctx, u)
	})
	if err != nil {
		t.Fatal(err)
	}
	return ws, u
}

func TestMigrateTwiceIsHarmless(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		if err := db.Migrate(context.Background()); err != nil {
			t.Fatal(err)
		}
		if err := db.Ping(context.Background()); err != nil {
			t.Fatal(err)
		}
	})
}

func TestUsersRoundTrip(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		ws, u := seed(t, db)
		got, err := db.Reader().User(ctx, u.ID)
		if err != nil {
			t.Fatal(err)
		}
		if got.Email != "ana@example.com" || got.Role != core.RoleAdmin || !got.HasRight(core.RightProfileAccess) ||
			got.State != core.StateActive || got.WorkspaceID != ws.ID || got.TwoFactorEnabled || !got.LastSignInAt.IsZero() {
			t.Fatalf("round trip: %+v", got)
		}
		if got.CreatedAt.UnixMilli() != u.CreatedAt.UnixMilli() {
			t.Fatalf("created_at %v != %v", got.CreatedAt, u.CreatedAt)
		}
		// One email, one user, in the whole installation.
		dup := *u
		dup.ID = 0
		if err := db.Writer().CreateUser(ctx, &dup); err != store.ErrEmailTaken {
			t.Fatalf("duplicate email: %v", err)
		}
		got.TwoFactorEnabled, got.Note, got.Rights = true, "VIP", nil
		if err := db.Writer().UpdateUser(ctx, got); err != nil {
			t.Fatal(err)
		}
		again, _ := db.Reader().UserByEmail(ctx, "ana@example.com")
		if !again.TwoFactorEnabled || again.Note != "VIP" || len(again.Rights) != 0 {
			t.Fatalf("update lost: %+v", again)
		}
		if err := db.Writer().TouchSignIn(ctx, u.ID); err != nil {
			t.Fatal(err)
		}
		again, _ = db.Reader().User(ctx, u.ID)
		if again.LastSignInAt.IsZero() {
			t.Fatal("last sign-in not recorded")
		}
	})
}

func TestUserInWorkspaceHidesOtherWorkspaces(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		_, u := seed(t, db)
		other := &core.Workspace{Name: "Other", Timezone: "UTC", Language: "en"}
		if err := db.Writer().CreateWorkspace(ctx, other); err != nil {
			t.Fatal(err)
		}
		if _, err := db.Reader().UserInWorkspace(ctx, other.ID, u.ID); core.ErrorCode(err) != core.ENOTFOUND {
			t.Fatalf("foreign user: %v", err)
		}
		users, total, err := db.Reader().Users(ctx, store.UserFilter{WorkspaceID: other.ID})
		if err != nil || total != 0 || len(users) != 0 {
			t.Fatalf("other workspace sees %d users (%v)", total, err)
		}
	})
}

func TestUsersPaginationAndAdminCount(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		ws, _ := seed(t, db)
		for i, name := range []string{"Zoe", "Bob", "Carl"} {
			u := &core.User{WorkspaceID: ws.ID, Name: name, Email: string(rune('a'+i)) + "@x.io", Role: core.RoleUser,
				State: core.StateActive, Language: "en", Timezone: "UTC"}
			if err := db.Writer().CreateUser(ctx, u); err != nil {
				t.Fatal(err)
			}
		}
		page, total, err := db.Reader().Users(ctx, store.UserFilter{WorkspaceID: ws.ID, Offset: 1, Limit: 2})
		if err != nil || total != 4 || len(page) != 2 || page[0].Name != "Bob" || page[1].Name != "Carl" {
			t.Fatalf("page: total=%d %v %v", total, names(page), err)
		}
		if n, _ := db.Reader().CountActiveAdmins(ctx, ws.ID); n != 1 {
			t.Fatalf("admins = %d", n)
		}
	})
}

func names(us []*core.User) []string {
	var out []string
	for _, u := range us {
		out = append(out, u.Name)
	}
	return out
}

func TestSessionsAndTokens(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		ws, u := seed(t, db)
		now := time.Now()
		s := &core.Session{UserID: u.ID, Kind: core.SessionWeb, TokenHash: []byte("0123456789abcdef0123456789abcdef"),
			CreatedAt: now, LastSeenAt: now, ExpiresAt: now.Add(time.Hour), IP: "10.0.0.1", Device: "Firefox on Linux"}
		if err := db.Writer().CreateSession(ctx, s); err != nil {
			t.Fatal(err)
		}
		got, err := db.Reader().SessionByTokenHash(ctx, s.TokenHash)
		if err != nil || got.ID != s.ID || got.Device != "Firefox on Linux" || !bytes.Equal(got.TokenHash, s.TokenHash) {
			t.Fatalf("session: %+v %v", got, err)
		}
		if err := db.Writer().RecordUses(ctx, []store.Use{{ID: s.ID, At: now.Add(time.Minute), IP: "10.0.0.2"}}, nil); err != nil {
			t.Fatal(err)
		}
		if list, _ := db.Reader().UserSessions(ctx, u.ID); len(list) != 1 || list[0].IP != "10.0.0.2" {
			t.Fatalf("sessions: %+v", list)
		}
		if err := db.Writer().DeleteUserSessions(ctx, u.ID); err != nil {
			t.Fatal(err)
		}
		if _, err := db.Reader().SessionByTokenHash(ctx, s.TokenHash); core.ErrorCode(err) != core.ENOTFOUND {
			t.Fatalf("deleted session found: %v", err)
		}

		tok := &core.APIToken{UserID: u.ID, Name: "CRM sync", TokenHash: []byte("tokenhash"), CreatedAt: now, ExpiresAt: now.Add(24 * time.Hour)}
		if err := db.Writer().CreateAPIToken(ctx, tok); err != nil {
			t.Fatal(err)
		}
		other := &core.Workspace{Name: "Other", Timezone: "UTC", Language: "en"}
		_ = db.Writer().CreateWorkspace(ctx, other)
		if _, err := db.Writer().RevokeAPIToken(ctx, other.ID, tok.ID); core.ErrorCode(err) != core.ENOTFOUND {
			t.Fatalf("foreign revoke: %v", err)
		}
		if _, err := db.Writer().RevokeAPIToken(ctx, ws.ID, tok.ID); err != nil {
			t.Fatal(err)
		}
		list, err := db.Reader().WorkspaceAPITokens(ctx, ws.ID)
		if err != nil || len(list) != 1 || list[0].RevokedAt.IsZero() || list[0].Name != "CRM sync" {
			t.Fatalf("tokens: %+v %v", list, err)
		}
	})
}

func TestInviteSingleUse(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		ws, u := seed(t, db)
		now := time.Now()
		in := &core.Invite{WorkspaceID: ws.ID, Email: "new@x.io", Role: core.RoleUser, Rights: []core.Right{core.RightProfileAccess},
			InvitedBy: u.ID, TokenHash: []byte("invitehash"), CreatedAt: now, ExpiresAt: now.Add(time.Hour)}
		if err := db.Writer().CreateInvite(ctx, in); err != nil {
			t.Fatal(err)
		}
		if open, _ := db.Reader().OpenInvites(ctx, ws.ID); len(open) != 1 || open[0].Email != "new@x.io" {
			t.Fatalf("open invites: %+v", open)
		}
		// Two racing acceptances: exactly one wins.
		var wg sync.WaitGroup
		wins := make(chan bool, 2)
		for range 2 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				ok, err := db.Writer().MarkInviteAccepted(ctx, in.ID)
				if err != nil {
					t.Error(err)
				}
				wins <- ok
			}()
		}
		wg.Wait()
		close(wins)
		n := 0
		for ok := range wins {
			if ok {
				n++
			}
		}
		if n != 1 {
			t.Fatalf("%d acceptances won", n)
		}
		if open, _ := db.Reader().OpenInvites(ctx, ws.ID); len(open) != 0 {
			t.Fatal("accepted invite still open")
		}
	})
}

func TestThrottleWindow(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		now := time.Now()
		db.SetClock(func() time.Time { return now })
		w := db.Writer()
		take := func() (int, time.Time) {
			t.Helper()
			n, start, err := w.TakeAttempt(ctx, "acct:a@x.io", time.Minute)
			if err != nil {
				t.Fatal(err)
			}
			return n, start
		}
		for want := 1; want <= 3; want++ {
			if n, start := take(); n != want || start.UnixMilli() != now.UnixMilli() {
				t.Fatalf("attempt %d: count %d, window %v", want, n, start)
			}
		}
		_, first := take() // 4
		if err := w.ReleaseAttempt(ctx, "acct:a@x.io", first); err != nil {
			t.Fatal(err)
		}
		if n, _ := take(); n != 4 {
			t.Fatalf("after a release the next attempt is %d, want 4", n)
		}
		now = now.Add(2 * time.Minute) // the window has passed
		n, second := take()
		if n != 1 || second.UnixMilli() != now.UnixMilli() {
			t.Fatalf("new window starts at %d (%v)", n, second)
		}
		// A release from the old window does not lower the new one.
		if err := w.ReleaseAttempt(ctx, "acct:a@x.io", first); err != nil {
			t.Fatal(err)
		}
		if n, _ := take(); n != 2 {
			t.Fatalf("late release changed the new window: %d, want 2", n)
		}
		if err := w.ClearFailures(ctx, "acct:a@x.io"); err != nil {
			t.Fatal(err)
		}
		if n, _ := take(); n != 1 {
			t.Fatalf("after clearing the count is %d, want 1", n)
		}
	})
}

// TestTakeAttemptConcurrent: parallel attempts each get their own count, so
// a limit checked on the returned count holds for a burst.
func TestTakeAttemptConcurrent(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		const n = 100
		counts := make(chan int, n)
		var wg sync.WaitGroup
		for range n {
			wg.Go(func() {
				c, _, err := db.Writer().TakeAttempt(ctx, "ip:1.2.3.4", time.Minute)
				if err != nil {
					t.Error(err)
				}
				counts <- c
			})
		}
		wg.Wait()
		close(counts)
		seen := map[int]bool{}
		for c := range counts {
			if c < 1 || c > n || seen[c] {
				t.Fatalf("count %d twice or out of range", c)
			}
			seen[c] = true
		}
		if len(seen) != n {
			t.Fatalf("%d distinct counts, want %d", len(seen), n)
		}
	})
}

func TestOutbox(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		for i, s := range []string{"first", "second", "other workspace", "no workspace"} {
			ws := []int64{7, 7, 8, 0}[i]
			if err := db.Writer().SaveOutboxMail(ctx, &core.OutboxMail{WorkspaceID: ws, To: "a@x.io", Subject: s, Text: "t", HTML: "<p>h</p>", Lang: "ru"}); err != nil {
				t.Fatal(err)
			}
		}
		got, err := db.Reader().OutboxMails(ctx, 7, 10)
		if err != nil || len(got) != 2 || got[0].Subject != "second" || got[0].Lang != "ru" || got[0].WorkspaceID != 7 {
			t.Fatalf("outbox: %+v %v", got, err)
		}
		if other, _ := db.Reader().OutboxMails(ctx, 8, 10); len(other) != 1 || other[0].Subject != "other workspace" {
			t.Fatalf("workspace 8 reads %+v", other)
		}
	})
}

func TestRollbackLeavesNothing(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		err := db.InTx(ctx, func(q *store.Q) error {
			if err := q.CreateWorkspace(ctx, &core.Workspace{Name: "Ghost", Timezone: "UTC", Language: "en"}); err != nil {
				return err
			}
			return core.ErrForbidden
		})
		if err != core.ErrForbidden {
			t.Fatalf("err = %v", err)
		}
		if n, err := db.Reader().CountWorkspaces(ctx); err != nil || n != 0 {
			t.Fatalf("rolled back workspace persisted: %d, %v", n, err)
		}
	})
}

// TestSQLiteSynchronous: the writer runs with the synchronous setting
// asked for, normal unless told (the documented default); anything else
// is refused.
func TestSQLiteSynchronous(t *testing.T) {
	ctx := context.Background()
	for _, c := range []struct {
		opts []store.Option
		want int // PRAGMA synchronous: 1 normal, 2 full
	}{{nil, 1}, {[]store.Option{store.SQLiteSynchronous("")}, 1}, {[]store.Option{store.SQLiteSynchronous(store.SyncFull)}, 2}} {
		db, err := store.Open(ctx, "", t.TempDir(), c.opts...)
		if err != nil {
			t.Fatal(err)
		}
		var got int
		if err := db.W.QueryRowContext(ctx, "PRAGMA synchronous").Scan(&got); err != nil || got != c.want {
			t.Errorf("%d options: synchronous %d (%v), want %d", len(c.opts), got, err, c.want)
		}
		db.Close()
	}
	if _, err := store.Open(ctx, "", t.TempDir(), store.SQLiteSynchronous("off")); err == nil {
		t.Error("synchronous off was taken")
	}
}

// TestCloseLeavesNoWAL: closing checkpoints the write-ahead log into the
// database and removes it, also with readers open, so the next start does
// not first read back what the last run wrote (after `roster seed` of 10
// million notifications, a 38 MB log made the first start take 650 ms
// instead of 80).
func TestCloseLeavesNoWAL(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	db, err := store.Open(ctx, "", dir)
	if err != nil {
		t.Fatal(err)
	}
	if err := db.Migrate(ctx); err != nil {
		t.Fatal(err)
	}
	seed(t, db)
	var n int
	if err := db.R.QueryRowContext(ctx, "SELECT count(*) FROM users").Scan(&n); err != nil || n != 1 {
		t.Fatalf("%d users (%v)", n, err)
	}
	wal := filepath.Join(dir, "roster.db-wal")
	if fi, err := os.Stat(wal); err != nil || fi.Size() == 0 {
		t.Fatalf("no log to checkpoint before Close (%v): the test proves nothing", err)
	}
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
	if fi, err := os.Stat(wal); err == nil && fi.Size() > 0 {
		t.Errorf("Close left a %d-byte write-ahead log", fi.Size())
	}
}

// TestBackgroundCheckpoint: SQLite's log is copied into the database file
// from beside the writer, with no further write and before Close, though
// the writer itself checkpoints only past 4,000 pages (about 16 MB) and
// cuts the log file back to 64 MB when it restarts (the figures
// docs/reliability.md gives); Close stops the loop.
func TestBackgroundCheckpoint(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	db, err := store.Open(ctx, "", dir)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	var pages int
	if err := db.W.QueryRowContext(ctx, "PRAGMA wal_autocheckpoint").Scan(&pages); err != nil || pages != 4000 {
		t.Errorf("the writer checkpoints past %d pages (%v), want 4000", pages, err)
	}
	var limit int64
	if err := db.W.QueryRowContext(ctx, "PRAGMA journal_size_limit").Scan(&limit); err != nil || limit != 64<<20 {
		t.Errorf("the log file is cut back to %d bytes (%v), want 64 MB", limit, err)
	}
	file := filepath.Join(dir, "roster.db")
	before, err := os.Stat(file)
	if err != nil {
		t.Fatal(err)
	}
	// About 500 pages: under the writer's own threshold, so only the
	// background copies them into the file before Close.
	if _, err := db.W.ExecContext(ctx, "CREATE TABLE filler (b BLOB)"); err != nil {
		t.Fatal(err)
	}
	for range 50 {
		if _, err := db.W.ExecContext(ctx, "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 10) INSERT INTO filler SELECT randomblob(4000) FROM n"); err != nil {
			t.Fatal(err)
		}
	}
	deadline := time.Now().Add(10 * time.Second)
	for {
		fi, err := os.Stat(file)
		if err != nil {
			t.Fatal(err)
		}
		if fi.Size() >= before.Size()+1_500_000 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the database file is %d bytes 10 s after 2 MB were written (%d before): nothing checkpointed them", fi.Size(), before.Size())
		}
		time.Sleep(20 * time.Millisecond)
	}
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, 1<<20)
	if stacks := string(buf[:runtime.Stack(buf, true)]); strings.Contains(stacks, "checkpointer") {
		t.Errorf("the checkpoint loop runs on after Close:\n%s", stacks)
	}
}

// TestPostgresPoolSize: the pool has at least 10 connections and
// database/sql five fewer (left to the listeners and River), as README
// says; pool_max_conns in the URL rules.
func TestPostgresPoolSize(t *testing.T) {
	url := testenv.FreshPostgres(t)
	sep := "?"
	if strings.Contains(url, "?") {
		sep = "&"
	}
	for _, c := range []struct {
		url            string
		pool, sqlConns int
	}{{url, 10, 5}, {url + sep + "pool_max_conns=20", 20, 15}} {
		db, err := store.Open(context.Background(), c.url, t.TempDir())
		if err != nil {
			t.Fatal(err)
		}
		if got, open := int(db.Pgx.Config().MaxConns), db.W.Stats().MaxOpenConnections; got != c.pool || open != c.sqlConns {
			t.Errorf("%s: pool of %d, database/sql %d; want %d and %d", c.url, got, open, c.pool, c.sqlConns)
		}
		db.Close()
	}
}

// TestConcurrentSavesOfOnePersonKeepEachOther: a person's row is read in a
// transaction and written back whole; two kinds of save running at once
// (names, photo versions) must not undo each other. On PostgreSQL the read
// locks the row (red without it: READ COMMITTED lets both read the old
// row); on SQLite the writer's transactions are serial.
// TestSaveLockWaitsOnlyForSaves: the row lock a save takes on PostgreSQL
// (store.UserToChange) must not wait for a transaction that only inserts
// a row referencing the user (a session here, a fan-out's notifications in
// production: both hold KEY SHARE on the user, which FOR UPDATE would
// wait on, and with a second lock the other way round, deadlock), and a
// plain read in a transaction must not wait for a save.
func TestSaveLockWaitsOnlyForSaves(t *testing.T) {
	db := storetest.Open(t, store.Postgres)
	ctx := context.Background()
	_, u := seed(t, db)
	hold := func(fn func(q *store.Q) error) (release func()) {
		held, done := make(chan struct{}), make(chan struct{})
		finished := make(chan error, 1)
		go func() {
			finished <- db.InTx(ctx, func(q *store.Q) error {
				if err := fn(q); err != nil {
					return err
				}
				close(held)
				<-done
				return nil
			})
		}()
		select {
		case <-held:
		case err := <-finished:
			t.Fatalf("holding transaction: %v", err)
		}
		var once sync.Once
		release = func() {
			once.Do(func() {
				close(done)
				if err := <-finished; err != nil {
					t.Error(err)
				}
			})
		}
		t.Cleanup(release) // a failed wait below must not leave it open
		return release
	}
	within := func(what string, fn func(ctx context.Context, q *store.Q) error) {
		t.Helper()
		ctx, cancel := context.WithTimeout(ctx, 3*time.Second)
		defer cancel()
		if err := db.InTx(ctx, func(q *store.Q) error { return fn(ctx, q) }); err != nil {
			t.Fatalf("%s waited on the other transaction: %v", what, err)
		}
	}

	start := time.Now()
	release := hold(func(q *store.Q) error {
		return q.CreateSession(ctx, &core.Session{UserID: u.ID, Kind: core.SessionWeb, TokenHash: []byte("held-session-hash-0123456789abcd"),
			CreatedAt: start, LastSeenAt: start, ExpiresAt: start.Add(time.Hour)})
	})
	within("a save during an insert referencing the user", func(ctx context.Context, q *store.Q) error {
		got, err := q.UserToChange(ctx, u.ID)
		if err != nil {
			return err
		}
		got.Name = "Ana Saved"
		return q.UpdateUser(ctx, got)
	})
	release()

	release = hold(func(q *store.Q) error {
		_, err := q.UserToChange(ctx, u.ID)
		return err
	})
	within("a read during a save", func(ctx context.Context, q *store.Q) error {
		_, err := q.User(ctx, u.ID)
		if err != nil {
			return err
		}
		_, err = q.UserInWorkspace(ctx, u.WorkspaceID, u.ID)
		return err
	})
	release()
}

func TestConcurrentSavesOfOnePersonKeepEachOther(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		_, u := seed(t, db)
		const saves = 150
		var wg sync.WaitGroup
		errs := make(chan error, 2)
		save := func(change func(u *core.User, i int)) {
			for i := 1; i <= saves; i++ {
				err := db.InTx(ctx, func(q *store.Q) error {
					got, err := q.UserToChange(ctx, u.ID)
					if err != nil {
						return err
					}
					change(got, i)
					return q.UpdateUser(ctx, got)
				})
				if err != nil {
					errs <- err
					return
				}
			}
		}
		wg.Go(func() { save(func(u *core.User, i int) { u.Name = fmt.Sprint("Ana ", i) }) })
		wg.Go(func() { save(func(u *core.User, i int) { u.PhotoVersion = int64(i) }) })
		wg.Wait()
		close(errs)
		for err := range errs {
			t.Fatal(err)
		}
		got, err := db.Reader().User(ctx, u.ID)
		if err != nil {
			t.Fatal(err)
		}
		if got.Name != fmt.Sprint("Ana ", saves) || got.PhotoVersion != saves {
			t.Fatalf("after both kinds of save: name %q, photo version %d; one undid the other", got.Name, got.PhotoVersion)
		}
	})
}

// TestInTxRollsBackOnPanic: a transaction whose function panics is rolled
// back before the panic goes on, so a caller that recovers (River's Work,
// intake's group commit, with contexts that never end) has not left the
// writer taken: the next transaction begins at once, without the row.
func TestInTxRollsBackOnPanic(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		func() {
			defer func() {
				if p := recover(); p != "bug" {
					t.Fatalf("recovered %v, want the panic", p)
				}
			}()
			_ = db.InTx(ctx, func(q *store.Q) error {
				if err := q.CreateWorkspace(ctx, &core.Workspace{Name: "Lost", Timezone: "UTC", Language: "en"}); err != nil {
					return err
				}
				panic("bug")
			})
		}()
		next, cancel := context.WithTimeout(ctx, 5*time.Second)
		defer cancel()
		var n int
		if err := db.InTx(next, func(q *store.Q) error {
			return q.Tx.QueryRowContext(next, "SELECT COUNT(*) FROM workspaces WHERE name = 'Lost'").Scan(&n)
		}); err != nil || n != 0 {
			t.Fatalf("next transaction: %v, %d rows of the panicked one", err, n)
		}
	})
}

// TestRecordUses: gathered uses move a session's last sight (and its IP,
// when known) and a token's last use forward, never back.
func TestRecordUses(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		_, u := seed(t, db)
		now := time.Now().Truncate(time.Millisecond)
		s := &core.Session{UserID: u.ID, Kind: core.SessionWeb, TokenHash: []byte("0123456789abcdef0123456789abcdef"),
			CreatedAt: now, LastSeenAt: now, ExpiresAt: now.Add(time.Hour), IP: "10.0.0.1", Device: "Firefox on Linux"}
		if err := db.Writer().CreateSession(ctx, s); err != nil {
			t.Fatal(err)
		}
		tok := &core.APIToken{UserID: u.ID, Name: "CRM sync", TokenHash: []byte("tokenhash"), CreatedAt: now, ExpiresAt: now.Add(24 * time.Hour)}
		if err := db.Writer().CreateAPIToken(ctx, tok); err != nil {
			t.Fatal(err)
		}
		check := func(step string, seen time.Time, ip string, used time.Time) {
			t.Helper()
			list, err := db.Reader().UserSessions(ctx, u.ID)
			if err != nil || len(list) != 1 || !list[0].LastSeenAt.Equal(seen) || list[0].IP != ip {
				t.Fatalf("%s: sessions %+v %v, want seen %v from %s", step, list, err, seen, ip)
			}
			got, err := db.Reader().APITokenByHash(ctx, tok.TokenHash)
			if err != nil || !got.LastUsedAt.Equal(used) {
				t.Fatalf("%s: token %+v %v, want used %v", step, got, err, used)
			}
		}
		later := now.Add(2 * time.Minute)
		if err := db.Writer().RecordUses(ctx, []store.Use{{ID: s.ID, At: later, IP: "10.0.0.2"}}, []store.Use{{ID: tok.ID, At: later}}); err != nil {
			t.Fatal(err)
		}
		check("forward", later, "10.0.0.2", later)
		// An older batch (another instance's, written late) moves nothing.
		if err := db.Writer().RecordUses(ctx, []store.Use{{ID: s.ID, At: now.Add(time.Minute), IP: "10.0.0.3"}}, []store.Use{{ID: tok.ID, At: now.Add(time.Minute)}}); err != nil {
			t.Fatal(err)
		}
		check("back", later, "10.0.0.2", later)
		// A use without an IP keeps the one recorded.
		last := later.Add(time.Minute)
		if err := db.Writer().RecordUses(ctx, []store.Use{{ID: s.ID, At: last}}, nil); err != nil {
			t.Fatal(err)
		}
		check("no IP", last, "10.0.0.2", later)
	})
}
