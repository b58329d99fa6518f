package main

import (
	"os"
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
