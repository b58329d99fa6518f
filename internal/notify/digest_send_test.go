package notify_test

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"sync"
	"testing"
	"time"

	"roster/internal/core"
	"roster/internal/notify"
	"roster/internal/profile"
	"roster/internal/services"
	"roster/internal/store"
	"roster/internal/store/storetest"
)

// digestMailer records digests and answers with its queued errors first.
type digestMailer struct {
	mu   sync.Mutex
	errs []error
	got  []digestSent
}

type digestSent struct {
	user int64
	d    *notify.Digest
}

func (m *digestMailer) SendDigest(_ context.Context, u *core.User, d *notify.Digest) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if len(m.errs) > 0 {
		err := m.errs[0]
		m.errs = m.errs[1:]
		if err != nil {
			return err
		}
	}
	m.got = append(m.got, digestSent{u.ID, d})
	return nil
}

func (m *digestMailer) sent() []digestSent {
	m.mu.Lock()
	defer m.mu.Unlock()
	return append([]digestSent(nil), m.got...)
}

// digestReach is an email channel that reaches everyone, people on the
// daily digest once a day (as the real one).
type digestReach struct{ db *store.DB }

func (digestReach) Channel() notify.Channel { return notify.Email }

func (r digestReach) Reach(ctx context.Context, q *store.Q, users []*core.User) (map[int64]string, error) {
	out := map[int64]string{}
	for _, u := range users {
		if s, found, err := q.NotifySettings(ctx, u.ID); err != nil {
			return nil, err
		} else if found && s.EmailTiming == core.EmailDaily {
			out[u.ID] = notify.UnusableDigest
		}
	}
	return out, nil
}

func (digestReach) Send(context.Context, *notify.Message) error { return nil }

// clock is a settable time for the service and the database.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) now() time.Time  { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *clock) set(t time.Time) { c.mu.Lock(); c.t = t; c.mu.Unlock() }

func newDigestFixture(t *testing.T, db *store.DB, n int, mailer *digestMailer, start time.Time) (*fixture, *clock) {
	t.Helper()
	f := newFixtureWith(t, db, n, services.Config{Channels: []notify.Adapter{&digestReach{db}}, Digests: mailer})
	c := &clock{t: start}
	notify.SetClockForTest(f.n, c.now)
	db.SetClock(c.now)
	return f, c
}

func schedule(t *testing.T, db *store.DB, userID int64) time.Time {
	t.Helper()
	next, _, err := db.Reader().DigestSchedule(context.Background(), userID)
	if err != nil {
		t.Fatal(err)
	}
	return next
}

func chooseDaily(t *testing.T, n *notify.Service, u *core.User, at string) {
	t.Helper()
	daily := core.EmailDaily
	if _, err := n.SaveSettings(context.Background(), u, notify.SettingsInput{EmailTiming: &daily, DigestTime: &at}); err != nil {
		t.Fatal(err)
	}
}

// TestDigestScheduleFollowsSettings: the stored next-send instant is set
// when the daily digest is chosen, moves when the time or the zone
// changes, and is cleared when email goes back to the time of the event.
func TestDigestScheduleFollowsSettings(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		f, c := newDigestFixture(t, db, 1, &digestMailer{}, time.Date(2026, 3, 10, 10, 0, 0, 0, time.UTC))
		u := f.users[0]
		kolkata := "Asia/Kolkata"
		if _, err := f.set.Profiles.Update(ctx, u, u.ID, profile.Changes{Timezone: &kolkata}, ""); err != nil {
			t.Fatal(err)
		}
		u.Timezone = kolkata
		if got := schedule(t, db, u.ID); !got.IsZero() {
			t.Fatalf("instant email has a digest due at %v", got)
		}
		chooseDaily(t, f.n, u, "18:00") // 15:30 in Kolkata now: today at 18:00 IST
		if got, want := schedule(t, db, u.ID), time.Date(2026, 3, 10, 12, 30, 0, 0, time.UTC); !got.Equal(want) {
			t.Errorf("daily at 18:00 in Kolkata: due %v, want %v", got, want)
		}
		// 09:00 has passed today, but today's digest has not gone yet:
		// it goes now, not never.
		chooseDaily(t, f.n, u, "09:00")
		if got, want := schedule(t, db, u.ID), c.now(); !got.Equal(want) {
			t.Errorf("daily at 09:00 in Kolkata before today's 18:00: due %v, want now, %v", got, want)
		}
		c.set(c.now().Add(time.Second))
		if n, err := f.n.QueueDueDigests(ctx); err != nil || n != 1 {
			t.Fatalf("%d queued (%v)", n, err)
		}
		if got, want := schedule(t, db, u.ID), time.Date(2026, 3, 11, 3, 30, 0, 0, time.UTC); !got.Equal(want) {
			t.Errorf("after today's digest: due %v, want %v", got, want)
		}
		// Changing the time again today never gives a second one.
		chooseDaily(t, f.n, u, "23:00")
		if got, want := schedule(t, db, u.ID), time.Date(2026, 3, 11, 17, 30, 0, 0, time.UTC); !got.Equal(want) {
			t.Errorf("23:00 after today's digest: due %v, want tomorrow's %v", got, want)
		}
		chooseDaily(t, f.n, u, "09:00")
		// The zone changes through the profile: 09:00 in New York (EDT
		// from 8 March). It is 05:00 on 10 March there, but 10 March had
		// its digest (in Kolkata): the next is on the 11th.
		ny := "America/New_York"
		if _, err := f.set.Profiles.Update(ctx, u, u.ID, profile.Changes{Timezone: &ny}, ""); err != nil {
			t.Fatal(err)
		}
		if got, want := schedule(t, db, u.ID), time.Date(2026, 3, 11, 13, 0, 0, 0, time.UTC); !got.Equal(want) {
			t.Errorf("after moving to New York: due %v, want %v", got, want)
		}
		c.set(c.now().Add(time.Minute))
		instant := core.EmailInstant
		if _, err := f.n.SaveSettings(ctx, u, notify.SettingsInput{EmailTiming: &instant}); err != nil {
			t.Fatal(err)
		}
		if got := schedule(t, db, u.ID); !got.IsZero() {
			t.Errorf("back to instant email: still due at %v", got)
		}
	})
}

// post takes in one event for the recipients and fans it out.
func post(t *testing.T, f *fixture, typ string, title string, to ...int64) {
	t.Helper()
	ctx := context.Background()
	acc, err := f.n.Intake(ctx, f.admin, []notify.EventInput{{Type: typ, Recipients: to, Data: map[string]any{"title": title, "from": "Ada"}}})
	if err != nil {
		t.Fatal(err)
	}
	if err := f.n.Fanout(ctx, acc[0].ID); err != nil {
		t.Fatal(err)
	}
}

// queued returns the digests waiting to be sent, as (user, date).
func queued(t *testing.T, db *store.DB) [][2]any {
	t.Helper()
	rows, err := db.R.Query("SELECT user_id, local_date FROM notify_digests WHERE status = 'queued' ORDER BY user_id, local_date")
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	var out [][2]any
	for rows.Next() {
		var id int64
		var date string
		if err := rows.Scan(&id, &date); err != nil {
			t.Fatal(err)
		}
		out = append(out, [2]any{id, date})
	}
	return out
}

func digestStatus(t *testing.T, db *store.DB, userID int64, date string) *store.Digest {
	t.Helper()
	d, err := db.Reader().DigestRow(context.Background(), userID, date)
	if err != nil {
		t.Fatalf("digest of %d on %s: %v", userID, date, err)
	}
	return d
}

// TestDigestContent: at the chosen time the person gets one digest of
// their unread notifications of the past 24 hours for the types they get
// by email: the five newest and the count of all; read ones, types whose
// email is off and other people's are left out; a tick again, or a send
// again, sends nothing more; a day with nothing unread sends nothing.
func TestDigestContent(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		mailer := &digestMailer{}
		f, c := newDigestFixture(t, db, 2, mailer, time.Date(2026, 6, 1, 17, 0, 0, 0, time.UTC))
		ana, bo := f.users[0], f.users[1]
		chooseDaily(t, f.n, ana, "18:00")
		off := false
		if _, err := f.n.SaveSettings(ctx, ana, notify.SettingsInput{Cells: map[string]map[string]bool{"mention": {"email": off}}}); err != nil {
			t.Fatal(err)
		}
		post(t, f, "task.assigned", "before the window", ana.ID) // 17:00 on 1 June: in the window of 1 June's digest
		for i := range 7 {
			c.set(c.now().Add(time.Minute))
			post(t, f, "task.assigned", fmt.Sprintf("task %d", i), ana.ID, bo.ID)
		}
		post(t, f, "mention", "a mention (email off)", ana.ID)
		page, err := f.n.List(ctx, ana, 0, "", 50)
		if err != nil {
			t.Fatal(err)
		}
		var readID int64
		for _, n := range page.Items {
			if n.Title == "New task: task 6" {
				readID = n.ID
			}
		}
		if _, err := f.n.SetRead(ctx, ana, readID, true); err != nil {
			t.Fatal(err)
		}

		if n, err := f.n.QueueDueDigests(ctx); err != nil || n != 0 {
			t.Fatalf("before 18:00: %d queued (%v)", n, err)
		}
		c.set(time.Date(2026, 6, 1, 18, 0, 7, 0, time.UTC))
		if n, err := f.n.QueueDueDigests(ctx); err != nil || n != 1 {
			t.Fatalf("at 18:00: %d queued (%v), want 1", n, err)
		}
		if n, err := f.n.QueueDueDigests(ctx); err != nil || n != 0 {
			t.Fatalf("a second tick queued %d (%v)", n, err)
		}
		if err := notify.SendDigestForTest(ctx, f.n, ana.ID, "2026-06-01"); err != nil {
			t.Fatal(err)
		}
		if err := notify.SendDigestForTest(ctx, f.n, ana.ID, "2026-06-01"); err != nil {
			t.Fatal(err)
		}
		got := mailer.sent()
		if len(got) != 1 || got[0].user != ana.ID {
			t.Fatalf("digests sent: %+v, want one to Ana", got)
		}
		d := got[0].d
		var titles []string
		for _, n := range d.Items {
			titles = append(titles, n.Title)
		}
		if d.Total != 7 || fmt.Sprint(titles) != "[New task: task 5 New task: task 4 New task: task 3 New task: task 2 New task: task 1]" || d.LocalDate != "2026-06-01" {
			t.Errorf("digest: total %d, items %v, date %s; want 7 (6 tasks unread + the one before), the 5 newest unread", d.Total, titles, d.LocalDate)
		}
		if row := digestStatus(t, db, ana.ID, "2026-06-01"); row.Status != "sent" || row.Items != 7 {
			t.Errorf("digest row %+v", row)
		}
		// The next day: nothing new unread since (the old ones are past
		// the 24 hours) — nothing is sent, and the day is marked empty.
		c.set(time.Date(2026, 6, 2, 18, 0, 1, 0, time.UTC))
		if err := f.n.ReadAll(ctx, ana); err != nil {
			t.Fatal(err)
		}
		if n, err := f.n.QueueDueDigests(ctx); err != nil || n != 1 {
			t.Fatalf("2 June: %d queued (%v)", n, err)
		}
		if err := notify.SendDigestForTest(ctx, f.n, ana.ID, "2026-06-02"); err != nil {
			t.Fatal(err)
		}
		if len(mailer.sent()) != 1 {
			t.Errorf("a digest with nothing unread was sent")
		}
		if row := digestStatus(t, db, ana.ID, "2026-06-02"); row.Status != "empty" {
			t.Errorf("2 June digest %+v, want empty", row)
		}
		if got := schedule(t, db, ana.ID); !got.Equal(time.Date(2026, 6, 3, 18, 0, 0, 0, time.UTC)) {
			t.Errorf("next digest due %v", got)
		}
	})
}

// TestDigestRetries: a temporary failure keeps the digest queued and the
// next attempt sends it once; a permanent failure fails it with its error.
func TestDigestRetries(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		mailer := &digestMailer{errs: []error{errors.New("421 try later"), nil,
			&notify.SendError{Err: errors.New("550 no such user"), Permanent: true}}}
		f, c := newDigestFixture(t, db, 2, mailer, time.Date(2026, 6, 1, 9, 0, 0, 0, time.UTC))
		for _, u := range f.users {
			chooseDaily(t, f.n, u, "10:00")
			post(t, f, "task.assigned", "hello", u.ID)
		}
		c.set(time.Date(2026, 6, 1, 10, 0, 0, 0, time.UTC))
		if n, err := f.n.QueueDueDigests(ctx); err != nil || n != 2 {
			t.Fatalf("%d queued (%v)", n, err)
		}
		a, b := f.users[0].ID, f.users[1].ID
		if err := notify.SendDigestForTest(ctx, f.n, a, "2026-06-01"); err == nil {
			t.Fatal("a temporary failure did not ask for a retry")
		}
		if row := digestStatus(t, db, a, "2026-06-01"); row.Status != "queued" || row.Attempts != 1 || row.LastError == "" {
			t.Errorf("after a temporary failure: %+v", row)
		}
		if err := notify.SendDigestForTest(ctx, f.n, a, "2026-06-01"); err != nil {
			t.Fatal(err)
		}
		if err := notify.SendDigestForTest(ctx, f.n, b, "2026-06-01"); err != nil {
			t.Fatal(err)
		}
		if row := digestStatus(t, db, a, "2026-06-01"); row.Status != "sent" || row.Attempts != 2 {
			t.Errorf("after the retry: %+v", row)
		}
		if row := digestStatus(t, db, b, "2026-06-01"); row.Status != "failed" || row.LastError == "" {
			t.Errorf("after a permanent failure: %+v", row)
		}
		if got := mailer.sent(); len(got) != 1 || got[0].user != a {
			t.Errorf("sent %+v, want exactly one, to the first user", got)
		}
	})
}

// TestDigestConcurrentEventsAndTicks: 1,000 events posted at once for one
// person, then eight ticks at once, give one digest.
func TestDigestConcurrentEventsAndTicks(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		mailer := &digestMailer{}
		f, c := newDigestFixture(t, db, 1, mailer, time.Date(2026, 6, 1, 9, 0, 0, 0, time.UTC))
		u := f.users[0]
		chooseDaily(t, f.n, u, "10:00")
		var wg sync.WaitGroup
		ids := make(chan int64, 1000)
		for i := range 1000 {
			wg.Go(func() {
				acc, err := f.n.Intake(ctx, f.admin, []notify.EventInput{{Type: "task.assigned", Recipients: []int64{u.ID},
					Data: map[string]any{"title": fmt.Sprintf("task %d", i), "from": "Ada"}}})
				if err != nil {
					t.Error(err)
					return
				}
				ids <- acc[0].ID
			})
		}
		wg.Wait()
		close(ids)
		var all []int64
		for id := range ids {
			all = append(all, id)
		}
		if err := f.n.Fanout(ctx, all...); err != nil {
			t.Fatal(err)
		}
		c.set(time.Date(2026, 6, 1, 10, 0, 30, 0, time.UTC))
		var total sync.Map
		for i := range 8 {
			wg.Go(func() {
				n, err := f.n.QueueDueDigests(ctx)
				if err != nil {
					t.Error(err)
				}
				total.Store(i, n)
			})
		}
		wg.Wait()
		sum := 0
		total.Range(func(_, v any) bool { sum += v.(int); return true })
		if sum != 1 || len(queued(t, db)) != 1 {
			t.Fatalf("eight ticks queued %d digests (%d rows), want 1", sum, len(queued(t, db)))
		}
		if err := notify.SendDigestForTest(ctx, f.n, u.ID, "2026-06-01"); err != nil {
			t.Fatal(err)
		}
		got := mailer.sent()
		if len(got) != 1 || got[0].d.Total != 1000 || len(got[0].d.Items) != notify.DigestShown {
			t.Fatalf("sent %d digests; first total %d", len(got), func() int {
				if len(got) == 0 {
					return 0
				}
				return got[0].d.Total
			}())
		}
	})
}

// TestDigestSimulation drives the real schedule, tick and keys through
// days × zones with an injected clock: each person's digest is queued
// once per local date, none missed, at the local time they chose (a
// skipped time at the jump, a repeated one once), though some people
// change their time or zone during the day. Each tick comes a random
// moment (under a minute) after the earliest due instant.
func TestDigestSimulation(t *testing.T) {
	zones := []string{"UTC", "Asia/Kolkata", "Asia/Kathmandu", "Australia/Adelaide", "America/St_Johns", "Australia/Lord_Howe",
		"Pacific/Chatham", "America/Havana", "America/New_York", "America/Los_Angeles", "Europe/London", "Europe/Berlin",
		"Europe/Moscow", "Europe/Istanbul", "America/Sao_Paulo", "America/Santiago", "Asia/Jakarta", "Asia/Tehran",
		"Asia/Kabul", "Asia/Yangon", "Australia/Eucla", "Pacific/Marquesas", "Pacific/Kiritimati", "Pacific/Pago_Pago",
		"America/Caracas", "Africa/Casablanca", "Asia/Gaza", "America/Asuncion", "Europe/Dublin", "America/Mexico_City",
		"Asia/Tokyo", "Australia/Sydney", "Pacific/Auckland", "America/Halifax", "Atlantic/Azores", "America/Godthab",
		"Asia/Colombo", "Asia/Dhaka", "Africa/Cairo", "America/Anchorage"}
	times := []string{"00:00", "00:30", "01:00", "01:30", "02:00", "02:30", "03:00", "09:00", "18:00", "23:59"}
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		days := 400
		if db.Engine == store.Postgres {
			days = 60 // the same code; PostgreSQL's round trips make 400 days slow
		}
		if testing.Short() {
			days = 30
		}
		ctx := context.Background()
		start := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
		f, c := newDigestFixture(t, db, len(zones), &digestMailer{}, start)
		rng := rand.New(rand.NewPCG(1, 2))
		type person struct {
			u    *core.User
			loc  *time.Location
			at   string
			seen map[string]time.Time // local date → due instant queued
			// catchUp: when a change of time made today's pending digest
			// due at once.
			catchUp time.Time
		}
		people := make([]*person, len(f.users))
		for i, u := range f.users {
			zone := zones[i]
			if _, err := f.set.Profiles.Update(ctx, u, u.ID, profile.Changes{Timezone: &zone}, ""); err != nil {
				t.Fatal(err)
			}
			u.Timezone = zone
			loc, _ := time.LoadLocation(zone)
			p := &person{u: u, loc: loc, at: times[i%len(times)], seen: map[string]time.Time{}}
			chooseDaily(t, f.n, u, p.at)
			people[i] = p
		}
		end := start.AddDate(0, 0, days)
		firstDate := map[int64]string{}
		for {
			var next time.Time
			if err := db.R.QueryRow("SELECT MIN(digest_next_at) FROM notify_settings WHERE digest_next_at IS NOT NULL").Scan(&next); err != nil {
				var ms int64
				if err := db.R.QueryRow("SELECT MIN(digest_next_at) FROM notify_settings WHERE digest_next_at IS NOT NULL").Scan(&ms); err != nil {
					t.Fatal(err)
				}
				next = time.UnixMilli(ms).UTC()
			}
			if next.After(end) {
				break
			}
			now := next.Add(time.Duration(rng.IntN(59_000)) * time.Millisecond)
			c.set(now)
			// Now and then someone changes their time (mostly after
			// today's digest): never a second digest that date.
			if rng.IntN(20) == 0 {
				p := people[rng.IntN(len(people))]
				p.at = times[rng.IntN(len(times))]
				chooseDaily(t, f.n, p.u, p.at)
				if schedule(t, db, p.u.ID).Equal(now) {
					p.catchUp = now // today's digest was pending and its new time has passed
				}
			}
			due, err := db.Reader().DueDigests(ctx, now, 1000)
			if err != nil {
				t.Fatal(err)
			}
			byUser := map[int64]*person{}
			for _, p := range people {
				byUser[p.u.ID] = p
			}
			for _, d := range due {
				p := byUser[d.UserID]
				date := notify.DigestDate(d.DueAt, p.loc)
				if _, twice := p.seen[date]; twice {
					t.Fatalf("%s: a second digest due on %s (at %v)", p.u.Timezone, date, d.DueAt)
				}
				h, m, _ := notify.ParseDigestTime(d.DigestTime)
				y, mo, dd := d.DueAt.In(p.loc).Date()
				if want := notify.DigestAt(y, mo, dd, h, m, p.loc); !d.DueAt.Equal(want) && !d.DueAt.Equal(p.catchUp) {
					t.Fatalf("%s: due at %v, want %v (%s local)", p.u.Timezone, d.DueAt, want, d.DigestTime)
				}
				p.seen[date] = d.DueAt
				if firstDate[d.UserID] == "" {
					firstDate[d.UserID] = date
				}
			}
			if n, err := f.n.QueueDueDigests(ctx); err != nil || n != len(due) {
				t.Fatalf("tick at %v queued %d (%v), want %d", now, n, err, len(due))
			}
		}
		for _, p := range people {
			d, _ := time.ParseInLocation("2006-01-02", firstDate[p.u.ID], p.loc)
			last := end.In(p.loc).AddDate(0, 0, -2)
			for ; d.Before(last); d = d.AddDate(0, 0, 1) {
				if _, ok := p.seen[d.Format("2006-01-02")]; !ok {
					t.Errorf("%s: no digest on %s", p.u.Timezone, d.Format("2006-01-02"))
				}
			}
			if len(p.seen) < days-3 {
				t.Errorf("%s: %d digests in %d days", p.u.Timezone, len(p.seen), days)
			}
		}
	})
}
