package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"image"
	"image/color"
	"image/png"
	"io"
	"math/rand/v2"
	"net/http"
	netmail "net/mail"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"roster/internal/auth"
	"roster/internal/core"
	"roster/internal/jobs"
	"roster/internal/mail/mailtest"
	"roster/internal/notify"
	"roster/internal/store"
)

// killPoints is how many times TestMixedLoadSurvivesKills kills the
// server.
const killPoints = 20

// TestMixedLoadSurvivesKills runs a real `roster serve` under mixed load
// (people saving their names and uploading photos, an integration posting
// events that fan out and are mailed to a real SMTP server, daily digests
// falling due) and kills it with SIGKILL at killPoints random moments,
// restarting it each time; the load goes on against each new process, and
// the integration posts again what was not acknowledged, with the same
// dedupe key, as a real one would. Then, once the last process has done
// its work:
//   - every acknowledged name and photo is there (or a later one that was
//     in flight), the photo's files with it;
//   - every event was stored once, has exactly one notification per
//     recipient and one delivery per (event, recipient, channel), none
//     left queued; the unread counts match the rows;
//   - every email delivery is sent and its mail arrived (a kill between a
//     send and its record sends it again: counted, bounded by the kills);
//   - each digest person has one digest for the day, sent, and got it;
//   - no row is an orphan, and on SQLite integrity_check and
//     foreign_key_check are clean.
func TestMixedLoadSurvivesKills(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and kills a real process")
	}
	for _, engine := range []store.Engine{store.SQLite, store.Postgres} {
		t.Run(string(engine), func(t *testing.T) { mixedCrashRun(t, engine) })
	}
}

// crashPerson is one person of the run and what was acknowledged to them.
type crashPerson struct {
	user   *core.User
	token  string
	digest bool

	mu        sync.Mutex
	nameSeq   int   // the last acknowledged name's number
	photoVer  int64 // the last acknowledged photo version
	nameTries int
}

func mixedCrashRun(t *testing.T, engine store.Engine) {
	ctx := context.Background()
	_, data, dbURL, bin := procRun(t, engine)
	smtpd := mailtest.NewServer(t)

	db, set, users := seeded(t, dbURL, data, 6)
	var people []*crashPerson
	for i, u := range users {
		raw := auth.APITokenPrefix + auth.NewToken()
		now := time.Now()
		if err := db.Writer().CreateAPIToken(ctx, &core.APIToken{UserID: u.ID, Name: "crash", TokenHash: auth.HashToken(raw), CreatedAt: now,
			ExpiresAt: now.Add(auth.MinTokenTTL)}); err != nil {
			t.Fatal(err)
		}
		people = append(people, &crashPerson{user: u, token: raw, digest: i >= 4})
	}
	daily := core.EmailDaily
	for _, p := range people {
		if p.digest {
			if _, err := set.Notify.SaveSettings(ctx, p.user, notify.SettingsInput{EmailTiming: &daily}); err != nil {
				t.Fatal(err)
			}
		}
	}
	var recipients []int64
	for _, p := range people {
		recipients = append(recipients, p.user.ID)
	}
	picture := crashPNG(t)

	// The integration: each event has a dedupe key; one not acknowledged
	// is posted again until it is.
	var evMu sync.Mutex
	acked := map[string]int64{} // dedupe key → event id
	var unacked []string
	nextEvent := 0
	takeEvent := func() string {
		evMu.Lock()
		defer evMu.Unlock()
		if len(unacked) > 0 {
			k := unacked[0]
			unacked = unacked[1:]
			return k
		}
		nextEvent++
		return fmt.Sprintf("K%06dZ", nextEvent)
	}

	var addr string
	client := &http.Client{Timeout: 10 * time.Second}
	call := func(ctx context.Context, method, path, token, contentType string, body []byte) (int, []byte, error) {
		req, err := http.NewRequestWithContext(ctx, method, "http://"+addr+path, bytes.NewReader(body))
		if err != nil {
			return 0, nil, err
		}
		req.Header.Set("Authorization", "Bearer "+token)
		req.Header.Set("Content-Type", contentType)
		res, err := client.Do(req)
		if err != nil {
			return 0, nil, err
		}
		defer res.Body.Close()
		out, err := io.ReadAll(res.Body)
		return res.StatusCode, out, err
	}
	var bad sync.Mutex
	var failures []string
	unexpected := func(what string, status int, body []byte) {
		bad.Lock()
		defer bad.Unlock()
		failures = append(failures, fmt.Sprintf("%s: %d %.200s", what, status, body))
	}

	// load runs until ctx ends: each person saves names, one uploads
	// photos, two post events.
	load := func(ctx context.Context) *sync.WaitGroup {
		var wg sync.WaitGroup
		for _, p := range people {
			wg.Go(func() {
				for ctx.Err() == nil {
					p.mu.Lock()
					p.nameTries++
					seq := p.nameTries
					p.mu.Unlock()
					status, body, err := call(ctx, http.MethodPatch, "/api/v1/me", p.token, "application/json",
						fmt.Appendf(nil, `{"name":"Person %d #%d"}`, p.user.ID, seq))
					switch {
					case err != nil:
						time.Sleep(10 * time.Millisecond)
					case status == http.StatusOK:
						p.mu.Lock()
						p.nameSeq = max(p.nameSeq, seq)
						p.mu.Unlock()
					default:
						unexpected("name save", status, body)
					}
				}
			})
		}
		wg.Go(func() {
			for i := 0; ctx.Err() == nil; i++ {
				p := people[1+i%3]
				status, body, err := call(ctx, http.MethodPut, "/api/v1/me/photo", p.token, "image/png", picture)
				switch {
				case err != nil:
					time.Sleep(10 * time.Millisecond)
				case status == http.StatusOK:
					var out struct {
						Photo map[string]string `json:"photo"`
					}
					if err := json.Unmarshal(body, &out); err != nil || out.Photo["48"] == "" {
						unexpected("photo answer", status, body)
						continue
					}
					ver := photoVersionIn(out.Photo["48"])
					p.mu.Lock()
					p.photoVer = max(p.photoVer, ver)
					p.mu.Unlock()
				default:
					unexpected("photo upload", status, body)
				}
			}
		})
		for range 2 {
			wg.Go(func() {
				for ctx.Err() == nil {
					key := takeEvent()
					ids, _ := json.Marshal(recipients)
					status, body, err := call(ctx, http.MethodPost, "/api/v1/events", people[0].token, "application/json",
						fmt.Appendf(nil, `{"type":"mention","recipients":%s,"data":{"from":"Ada-%s","title":"Deal %s"},"dedupe_key":%q}`, ids, key, key, key))
					if err != nil || status != http.StatusAccepted {
						if err == nil {
							unexpected("event", status, body)
						}
						evMu.Lock()
						unacked = append(unacked, key)
						evMu.Unlock()
						time.Sleep(10 * time.Millisecond)
						continue
					}
					var out struct {
						ID int64 `json:"id"`
					}
					if err := json.Unmarshal(body, &out); err != nil || out.ID == 0 {
						unexpected("event answer", status, body)
						continue
					}
					evMu.Lock()
					if prev, ok := acked[key]; ok && prev != out.ID {
						failures = append(failures, fmt.Sprintf("event %s stored twice: %d and %d", key, prev, out.ID))
					}
					acked[key] = out.ID
					evMu.Unlock()
				}
			})
		}
		return &wg
	}

	serve := func() *exec.Cmd {
		var cmd *exec.Cmd
		cmd, addr = serveRoster(t, bin, "--data", data, "--database-url", dbURL, "--job-rescue-after", "3s",
			"--smtp-url", smtpd.URL(), "--mail-from", "roster@example.com", "--api-rate", "100000", "--api-burst", "100000")
		return cmd
	}
	rng := rand.New(rand.NewPCG(uint64(time.Now().UnixNano()), 7))
	for kill := range killPoints {
		if kill == killPoints/2 {
			// The digests fall due now, mid-run.
			if _, err := db.W.ExecContext(ctx, db.Rebind("UPDATE notify_settings SET digest_next_at = ? WHERE digest_next_at IS NOT NULL"),
				time.Now().UnixMilli()); err != nil {
				t.Fatal(err)
			}
		}
		cmd := serve()
		lctx, stop := context.WithCancel(ctx)
		wg := load(lctx)
		time.Sleep(time.Duration(100+rng.IntN(700)) * time.Millisecond)
		if err := cmd.Process.Signal(syscall.SIGKILL); err != nil {
			t.Fatal(err)
		}
		_ = cmd.Wait()
		stop()
		wg.Wait()
	}
	t.Logf("%d kills: %d events acknowledged, %d awaiting a retry; %d mails so far", killPoints, len(acked), len(unacked), smtpd.Count())
	// The checks below hold vacuously for writes never acknowledged: the
	// runs must have got real work through.
	named, photographed := 0, 0
	for _, p := range people {
		if p.nameSeq > 0 {
			named++
		}
		if p.photoVer > 0 {
			photographed++
		}
	}
	if len(acked) < killPoints/4 || named < len(people)/2 || photographed == 0 {
		t.Fatalf("too little acknowledged between the kills to check: %d events, %d of %d people's names, %d photos", len(acked), named, len(people), photographed)
	}

	// The last process: the integration's unacknowledged events go in,
	// then everything settles.
	serve()
	for len(unacked) > 0 {
		key := takeEvent()
		ids, _ := json.Marshal(recipients)
		status, body, err := call(ctx, http.MethodPost, "/api/v1/events", people[0].token, "application/json",
			fmt.Appendf(nil, `{"type":"mention","recipients":%s,"data":{"from":"Ada-%s","title":"Deal %s"},"dedupe_key":%q}`, ids, key, key, key))
		if err != nil || status != http.StatusAccepted {
			t.Fatalf("posting %s again: %d %s %v", key, status, body, err)
		}
		var out struct {
			ID int64 `json:"id"`
		}
		_ = json.Unmarshal(body, &out)
		if prev, ok := acked[key]; ok && prev != out.ID {
			t.Fatalf("event %s stored twice: %d and %d", key, prev, out.ID)
		}
		acked[key] = out.ID
	}
	if len(failures) > 0 {
		t.Fatalf("answers other than success or a cut connection:\n%s", strings.Join(failures, "\n"))
	}
	count := func(query string, args ...any) int {
		t.Helper()
		var n int
		if err := db.R.QueryRowContext(ctx, db.Rebind(query), args...).Scan(&n); err != nil {
			t.Fatalf("%s: %v", query, err)
		}
		return n
	}
	events := len(acked)
	want := events * len(people)
	deadline := time.Now().Add(3 * time.Minute)
	for count("SELECT COUNT(*) FROM notifications") < want || count("SELECT COUNT(*) FROM notify_deliveries") < want*4 ||
		count("SELECT COUNT(*) FROM notify_deliveries WHERE status = 'queued'") > 0 ||
		count("SELECT COUNT(*) FROM notify_digests WHERE status = 'queued'") > 0 {
		if time.Now().After(deadline) {
			t.Fatalf("not settled: %d of %d notifications, %d of %d deliveries, %d queued, %d digests queued", count("SELECT COUNT(*) FROM notifications"), want,
				count("SELECT COUNT(*) FROM notify_deliveries"), want*4, count("SELECT COUNT(*) FROM notify_deliveries WHERE status = 'queued'"),
				count("SELECT COUNT(*) FROM notify_digests WHERE status = 'queued'"))
		}
		time.Sleep(100 * time.Millisecond)
	}

	// Names and photos.
	current := map[string]bool{} // photos/{user}/{version}
	for _, p := range people {
		var name string
		var ver int64
		if err := db.R.QueryRowContext(ctx, db.Rebind("SELECT name, photo_version FROM users WHERE id = ?"), p.user.ID).Scan(&name, &ver); err != nil {
			t.Fatal(err)
		}
		seq, _ := strconv.Atoi(name[strings.LastIndexByte(name, '#')+1:])
		if p.nameSeq > 0 && seq < p.nameSeq {
			t.Errorf("person %d: name %q, but #%d was acknowledged", p.user.ID, name, p.nameSeq)
		}
		if ver < p.photoVer {
			t.Errorf("person %d: photo version %d, but %d was acknowledged", p.user.ID, ver, p.photoVer)
		}
		current[fmt.Sprintf("photos/%d/%d", p.user.ID, ver)] = true
		if ver > 0 {
			for _, size := range []int{48, 128, 512} {
				if _, err := os.Stat(filepath.Join(data, "files", "photos", fmt.Sprint(p.user.ID), fmt.Sprint(ver), fmt.Sprintf("%d.jpg", size))); err != nil {
					t.Errorf("person %d: the current photo's file: %v", p.user.ID, err)
				}
			}
		}
	}

	// Events, notifications, deliveries: each once.
	if n := count("SELECT COUNT(*) FROM notify_events"); n != events {
		t.Errorf("%d events stored, %d acknowledged (the rest were posted again with their keys)", n, events)
	}
	for q, what := range map[string]string{
		"SELECT COUNT(*) FROM (SELECT event_id, user_id FROM notifications GROUP BY event_id, user_id HAVING COUNT(*) > 1) d":                        "notifications twice",
		"SELECT COUNT(*) FROM (SELECT event_id, user_id, channel FROM notify_deliveries GROUP BY event_id, user_id, channel HAVING COUNT(*) > 1) d":  "deliveries twice",
		"SELECT COUNT(*) FROM notifications n LEFT JOIN notify_events e ON e.id = n.event_id WHERE e.id IS NULL":                                     "notifications without their event",
		"SELECT COUNT(*) FROM notify_deliveries d LEFT JOIN notifications n ON n.event_id = d.event_id AND n.user_id = d.user_id WHERE n.id IS NULL": "deliveries without their notification",
		"SELECT COUNT(*) FROM notifications n LEFT JOIN users u ON u.id = n.user_id WHERE u.id IS NULL":                                              "notifications without their person",
		"SELECT COUNT(*) FROM notify_digests g LEFT JOIN users u ON u.id = g.user_id WHERE u.id IS NULL":                                             "digests without their person",
		"SELECT COUNT(*) FROM notify_deliveries WHERE status NOT IN ('sent', 'skipped')":                                                             "deliveries neither sent nor skipped",
	} {
		if n := count(q); n != 0 {
			t.Errorf("%d %s", n, what)
		}
	}
	if n, unread := count("SELECT COUNT(*) FROM notifications WHERE read_at IS NULL"), count("SELECT COALESCE(SUM(unread), 0) FROM notify_inbox"); n != unread {
		t.Errorf("unread counted %d, rows %d", unread, n)
	}

	// Mail: every email delivery sent arrived; resends only from kills.
	// A digest person's event mail is held for the digest, so all their
	// mail is digests. Copies of one mail (sent again after a kill caught
	// it between the send and its record) must carry one Message-ID, so
	// the receiving systems see one message.
	mails := map[string]map[string]int{} // "to|key" → Message-ID → copies
	keyRE := regexp.MustCompile(`K\d{6}Z`)
	digests := map[string]map[string]int{} // to → Message-ID → copies
	add := func(m map[string]map[string]int, k, id string) {
		if m[k] == nil {
			m[k] = map[string]int{}
		}
		m[k][id]++
	}
	for _, m := range smtpd.Messages() {
		to := strings.Join(m.To, ",")
		msg, err := netmail.ReadMessage(bytes.NewReader(m.Data))
		if err != nil {
			t.Fatal(err)
		}
		id := msg.Header.Get("Message-ID")
		if to == people[4].user.Email || to == people[5].user.Email {
			add(digests, to, id)
			continue
		}
		for _, k := range uniqueKeys(keyRE.FindAll(m.Data, -1)) {
			add(mails, to+"|"+k, id)
		}
	}
	sent, resent := 0, 0
	for key := range acked {
		for _, p := range people {
			if p.digest {
				continue
			}
			ids := mails[p.user.Email+"|"+key]
			switch {
			case len(ids) == 0:
				t.Errorf("event %s: no mail reached %s", key, p.user.Email)
			case len(ids) > 1:
				t.Errorf("event %s: copies to %s with different Message-IDs: %v", key, p.user.Email, ids)
			}
			sent++
			for _, copies := range ids {
				resent += copies - 1
			}
		}
	}
	// A kill catches at most one send per notification worker between
	// the send and its record.
	if resent > killPoints*jobs.NotifyWorkers {
		t.Errorf("%d mails sent again, more than the kills can explain", resent)
	}
	if n := count("SELECT COUNT(*) FROM notify_deliveries WHERE channel = 'email' AND status = 'sent'"); n != sent {
		t.Errorf("%d email deliveries sent, %d expected", n, sent)
	}
	for _, p := range people {
		if !p.digest {
			continue
		}
		if n := count("SELECT COUNT(*) FROM notify_digests WHERE user_id = ? AND status IN ('sent', 'empty')", p.user.ID); n != 1 {
			t.Errorf("person %d: %d digests done", p.user.ID, n)
		}
		sentDigest := count("SELECT COUNT(*) FROM notify_digests WHERE user_id = ? AND status = 'sent'", p.user.ID) == 1
		if ids := digests[p.user.Email]; (sentDigest && len(ids) != 1) || (!sentDigest && len(ids) != 0) {
			t.Errorf("person %d: digest sent %v, mails by Message-ID %v", p.user.ID, sentDigest, ids)
		}
	}

	if engine == store.SQLite {
		var ok string
		if err := db.R.QueryRowContext(ctx, "PRAGMA integrity_check").Scan(&ok); err != nil || ok != "ok" {
			t.Fatalf("integrity_check: %q %v", ok, err)
		}
		rows, err := db.R.QueryContext(ctx, "PRAGMA foreign_key_check")
		if err != nil {
			t.Fatal(err)
		}
		if rows.Next() {
			t.Error("foreign_key_check found rows pointing nowhere")
		}
		rows.Close()
	}
	// A kill strands at most the one upload in flight (its files stored,
	// not yet recorded; or the photo it replaced, not yet deleted): the
	// hourly sweep deletes those once StrayGrace has passed (profile
	// TestSweepPhotosDeletesOnlyStrays). More means saves undid each other.
	stray := map[string]bool{}
	_ = filepath.WalkDir(filepath.Join(data, "files"), func(path string, d os.DirEntry, err error) error {
		if err == nil && !d.IsDir() {
			rel, _ := filepath.Rel(filepath.Join(data, "files"), path)
			if v := filepath.Dir(rel); !current[v] {
				stray[v] = true
			}
		}
		return nil
	})
	if len(stray) > killPoints {
		t.Errorf("%d photo versions of no current photo after %d kills: %v", len(stray), killPoints, stray)
	}
	t.Logf("%d events, %d notifications, %d email deliveries (%d mails sent again after a kill, same Message-ID), %d digests, %d stray photo versions",
		events, want, sent, resent, len(digests), len(stray))
}

// photoVersionIn reads the version from a photo URL (…/photo/{version}/48).
func photoVersionIn(url string) int64 {
	parts := strings.Split(strings.Trim(url, "/"), "/")
	for i := len(parts) - 1; i >= 0; i-- {
		if v, err := strconv.ParseInt(parts[i], 10, 64); err == nil && v > 1000 {
			return v
		}
	}
	return 0
}

func uniqueKeys(keys [][]byte) []string {
	seen := map[string]bool{}
	var out []string
	for _, k := range keys {
		if !seen[string(k)] {
			seen[string(k)] = true
			out = append(out, string(k))
		}
	}
	return out
}

// crashPNG is a real 200×200 PNG.
func crashPNG(t *testing.T) []byte {
	m := image.NewNRGBA(image.Rect(0, 0, 200, 200))
	for y := range 200 {
		for x := range 200 {
			m.Set(x, y, color.NRGBA{uint8(x), uint8(y), 60, 255})
		}
	}
	var buf bytes.Buffer
	if err := png.Encode(&buf, m); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}
