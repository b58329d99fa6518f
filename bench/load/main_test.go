package main

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func TestMarker(t *testing.T) {
	for data, want := range map[string]int64{
		`{"unread":3,"notification":{"title":"bench in #42#","body":"load"}}`: 42,
		`{"notification":{"title":"bench dans #1733350000000000000#"}}`:       1733350000000000000,
	} {
		if got, ok := marker(data); !ok || got != want {
			t.Errorf("marker(%s) = %d, %v; want %d", data, got, ok, want)
		}
	}
	for _, data := range []string{`{"unread":3}`, `{"title":"#12"}`, `{"title":"#x#"}`} {
		if got, ok := marker(data); ok {
			t.Errorf("marker(%s) = %d, want none", data, got)
		}
	}
}

func TestPercentile(t *testing.T) {
	var xs []time.Duration
	for i := 1; i <= 100; i++ {
		xs = append(xs, time.Duration(i)*time.Millisecond)
	}
	if p := percentile(xs, .5); p != 51*time.Millisecond {
		t.Errorf("p50 = %s", p)
	}
	if p := percentile(xs, .99); p != 100*time.Millisecond {
		t.Errorf("p99 = %s", p)
	}
	if p := percentile(nil, .99); p != 0 {
		t.Errorf("p99 of nothing = %s", p)
	}
}

func TestProcStatus(t *testing.T) {
	if rss := procStatus(os.Getpid(), "VmRSS"); rss <= 0 {
		t.Skipf("no /proc here (VmRSS %d)", rss)
	}
	if procStatus(0, "VmRSS") != 0 {
		t.Error("pid 0 should read nothing")
	}
}

// TestCPUTicks: this process's CPU time, read from /proc/PID/stat, grows
// while it works (at least 20 ticks in 300 ms of spinning on one core).
func TestCPUTicks(t *testing.T) {
	before, ok := cpuTicks(os.Getpid())
	if !ok {
		t.Skip("no /proc here")
	}
	for start := time.Now(); time.Since(start) < 300*time.Millisecond; {
	}
	if after, _ := cpuTicks(os.Getpid()); after-before < 20 {
		t.Errorf("%d ticks in 300 ms of work, want at least 20", after-before)
	}
	if _, ok := cpuTicks(0); ok {
		t.Error("pid 0 should read nothing")
	}
}

// TestPatchCheck: a person whose name is older than the last one
// acknowledged counts as lost, a later one does not, and SQLITE_BUSY in
// the log fails the check.
func TestPatchCheck(t *testing.T) {
	names := map[string]string{"a": patchName(5), "b": patchName(7), "c": "Someone Else"}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_ = json.NewEncoder(w).Encode(map[string]string{"name": names[strings.TrimPrefix(r.Header.Get("Authorization"), "Bearer ")]})
	}))
	defer srv.Close()
	dir := t.TempDir()
	check := func(acked map[string]int64, log string) row {
		t.Helper()
		b, _ := json.Marshal(patchState{Acked: acked, Writes: 3, Killed: true})
		state, logPath := filepath.Join(dir, "state.json"), filepath.Join(dir, "roster.log")
		if err := os.WriteFile(state, b, 0o600); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(logPath, []byte(log), 0o600); err != nil {
			t.Fatal(err)
		}
		rows, err := patchCheck(context.Background(), options{url: srv.URL, state: state, logPath: logPath})
		if err != nil || len(rows) != 1 {
			t.Fatalf("patchCheck: %v %v", rows, err)
		}
		return rows[0]
	}
	if r := check(map[string]int64{"a": 5, "b": 6}, "ok\n"); !r.Met || r.Lost != 0 {
		t.Errorf("names as acknowledged or later: %+v", r)
	}
	if r := check(map[string]int64{"a": 6, "b": 7, "c": 1}, "ok\n"); r.Met || r.Lost != 2 {
		t.Errorf("an older name and another name are lost: %+v", r)
	}
	if r := check(map[string]int64{"a": 5}, `{"err":"database is locked (5) (SQLITE_BUSY)"}`); r.Met {
		t.Errorf("SQLITE_BUSY in the log passed: %+v", r)
	}
}
