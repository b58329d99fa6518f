package store_test

import (
	"context"
	"errors"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"roster/internal/core"
	"roster/internal/store"
	"roster/internal/store/storetest"
	"roster/internal/testenv"
)

// TestCacheDroppedByWrites: a write drops the values carrying its tag and
// no other, after its transaction commits (not when it rolls back); a
// value read before a change and put after it is not kept; values age
// out; a full cache starts over.
func TestCacheDroppedByWrites(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		storetest.Listen(t, db)
		ws, u := seed(t, db)
		c := store.NewCache[string, int](db, 3, time.Minute)
		put := func(k string, v int, tags ...string) { c.Put(k, v, c.Gen(), tags...) }
		has := func(k string) bool { _, ok := c.Get(k); return ok }
		// settled waits until a write made since gen was taken has
		// reached the cache every way it will: at once here, and on
		// PostgreSQL also as the echo of its NOTIFY.
		settled := func(gen uint64) {
			t.Helper()
			want := gen + 1
			if db.Engine == store.Postgres {
				want++
			}
			for deadline := time.Now().Add(2 * time.Second); c.Gen() < want; time.Sleep(2 * time.Millisecond) {
				if time.Now().After(deadline) {
					t.Fatal("a write did not reach the cache")
				}
			}
		}
		put("user", 1, store.UserTag(u.ID))
		put("policy", 2, store.WorkspaceTag(ws.ID))
		if !has("user") || !has("policy") {
			t.Fatal("not kept")
		}
		gen := c.Gen()
		if err := db.Writer().UpdateUser(ctx, u); err != nil {
			t.Fatal(err)
		}
		settled(gen)
		if has("user") || !has("policy") {
			t.Fatalf("after the person's row changed: user %v, policy %v", has("user"), has("policy"))
		}
		// In a transaction: dropped once it commits.
		put("user", 1, store.UserTag(u.ID))
		rollback := errors.New("rollback")
		if err := db.InTx(ctx, func(q *store.Q) error {
			if err := q.UpdateUser(ctx, u); err != nil {
				return err
			}
			return rollback
		}); !errors.Is(err, rollback) {
			t.Fatal(err)
		}
		if !has("user") {
			t.Fatal("a rolled-back write dropped the value")
		}
		gen = c.Gen()
		if err := db.InTx(ctx, func(q *store.Q) error { return q.SetWorkspaceSecurity(ctx, ws) }); err != nil {
			t.Fatal(err)
		}
		settled(gen)
		if has("policy") || !has("user") {
			t.Fatal("the policy's change did not drop only the policy")
		}
		// Read, then a change, then put: not kept.
		gen = c.Gen()
		if err := db.Writer().DeleteUserSessions(ctx, u.ID); err != nil {
			t.Fatal(err)
		}
		c.Put("stale", 3, gen, store.UserTag(u.ID))
		settled(gen)
		if has("stale") {
			t.Fatal("a value read before a change was kept")
		}
		// Read, then a change, then a record of use of what was read:
		// the value read after the change stays.
		put("used", 1, store.UserTag(u.ID))
		_, gen, _ = c.GetGen("used")
		if err := db.Writer().UpdateUser(ctx, u); err != nil {
			t.Fatal(err)
		}
		settled(gen)
		put("used", 2, store.UserTag(u.ID))
		c.Update("used", 1, gen)
		if v, _ := c.Get("used"); v != 2 {
			t.Fatalf("a record of use of a value read before a change overwrote the one read after it: %d", v)
		}
		// Age and size.
		put("a", 1)
		put("b", 2)
		put("c", 3) // the fourth value: the cache started over
		if has("user") || !has("c") {
			t.Fatal("a full cache kept its old values")
		}
		db.SetClock(func() time.Time { return time.Now().Add(time.Minute) })
		defer db.SetClock(time.Now)
		if has("c") {
			t.Fatal("a value older than its maximum age was served")
		}
	})
}

// TestCacheAcrossInstances: two handles on one PostgreSQL database (two
// instances). Caches are off until the listener connects and again when
// it stops; a write on one drops the other's values.
func TestCacheAcrossInstances(t *testing.T) {
	ctx := context.Background()
	url := testenv.FreshPostgres(t)
	open := func() *store.DB {
		db, err := store.Open(ctx, url, filepath.Join(t.TempDir(), "data"))
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { db.Close() })
		return db
	}
	one, two := open(), open()
	if err := one.Migrate(ctx); err != nil {
		t.Fatal(err)
	}
	_, u := seed(t, one)
	c := store.NewCache[string, int](two, 10, time.Minute)
	c.Put("user", 1, c.Gen(), store.UserTag(u.ID))
	if _, ok := c.Get("user"); ok || c.Len() != 0 {
		t.Fatal("a cache was used before its instance could hear changes")
	}
	storetest.Listen(t, two)
	c.Put("user", 1, c.Gen(), store.UserTag(u.ID))
	if _, ok := c.Get("user"); !ok {
		t.Fatal("not kept while listening")
	}
	if err := one.Writer().UpdateUser(ctx, u); err != nil {
		t.Fatal(err)
	}
	for deadline := time.Now().Add(time.Second); ; time.Sleep(5 * time.Millisecond) {
		if _, ok := c.Get("user"); !ok {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("a write on the other instance did not drop the value within a second")
		}
	}
}

// TestCacheHearsOnlyItsKinds: a cache given the kinds of tag its values
// carry ignores changes of other kinds (the unread counts every fan-out
// drops), generation included, so a read of its own racing them is still
// kept; a change of its kind drops as before; a value put with a tag of
// another kind is not kept.
func TestCacheHearsOnlyItsKinds(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		storetest.Listen(t, db)
		_, u := seed(t, db)
		c := store.NewCache[string, int](db, 10, time.Minute, store.UserKind)
		gen := c.Gen()
		// A fan-out to u moves their unread count (an "n:" tag on SQLite).
		if err := db.InTx(ctx, func(q *store.Q) error {
			_, err := q.AddToInboxes(ctx, []*core.Notification{{ID: 1, UserID: u.ID}})
			return err
		}); err != nil {
			t.Fatal(err)
		}
		c.Put("user", 1, gen, store.UserTag(u.ID))
		if _, ok := c.Get("user"); !ok || c.Gen() != gen {
			t.Fatalf("another kind's change reached the cache (generation %d, was %d)", c.Gen(), gen)
		}
		gen = c.Gen()
		if err := db.Writer().UpdateUser(ctx, u); err != nil {
			t.Fatal(err)
		}
		for deadline := time.Now().Add(2 * time.Second); ; time.Sleep(2 * time.Millisecond) {
			if _, ok := c.Get("user"); !ok && c.Gen() > gen {
				break
			}
			if time.Now().After(deadline) {
				t.Fatal("a change of the cache's own kind did not drop its value")
			}
		}
		c.Put("policy", 2, c.Gen(), store.WorkspaceTag(u.WorkspaceID))
		if _, ok := c.Get("policy"); ok {
			t.Fatal("a value with a tag of a kind the cache does not hear was kept")
		}
	})
}

// TestCacheAgesSpread: values kept at the same moment age out over the
// last fifth of the cache's age, not all at once, and none outlives it.
func TestCacheAgesSpread(t *testing.T) {
	db := storetest.Open(t, store.SQLite)
	storetest.Listen(t, db)
	var mu sync.Mutex
	now := time.Now()
	db.SetClock(func() time.Time { mu.Lock(); defer mu.Unlock(); return now })
	at := func(d time.Duration) { mu.Lock(); now = now.Add(d); mu.Unlock() }
	c := store.NewCache[int, int](db, 1000, time.Minute)
	for k := range 200 {
		c.Put(k, k, c.Gen())
	}
	kept := func() int {
		n := 0
		for k := range 200 {
			if _, ok := c.Get(k); ok {
				n++
			}
		}
		return n
	}
	at(48*time.Second - time.Millisecond)
	if n := kept(); n != 200 {
		t.Fatalf("before four fifths of the age: %d of 200 kept, want all", n)
	}
	at(6 * time.Second) // 54 s: half way through the spread
	if n := kept(); n < 20 || n > 180 {
		t.Fatalf("at nine tenths of the age: %d of 200 kept, want some but not all", n)
	}
	at(6*time.Second + time.Millisecond) // 60 s: the age
	if n := kept(); n != 0 {
		t.Fatalf("at the age: %d of 200 kept, want none", n)
	}
}
