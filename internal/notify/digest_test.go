package notify_test

import (
	"testing"
	"time"

	"roster/internal/notify"
)

var digestZones = []string{
	"UTC", "Asia/Kolkata", "Asia/Kathmandu", "Australia/Adelaide", "America/St_Johns", "America/New_York",
	"America/Chicago", "America/Denver", "America/Los_Angeles", "America/Anchorage", "Pacific/Honolulu", "America/Havana",
	"America/Santiago", "America/Asuncion", "America/Sao_Paulo", "America/Mexico_City", "Europe/London", "Europe/Berlin",
	"Europe/Moscow", "Europe/Istanbul", "Europe/Kyiv", "Africa/Cairo", "Africa/Casablanca", "Asia/Tehran", "Asia/Jerusalem",
	"Asia/Beirut", "Asia/Dubai", "Asia/Kabul", "Asia/Yangon", "Asia/Jakarta", "Asia/Shanghai", "Asia/Tokyo",
	"Australia/Darwin", "Australia/Eucla", "Australia/Sydney", "Australia/Lord_Howe", "Pacific/Auckland",
	"Pacific/Chatham", "Pacific/Kiritimati", "Pacific/Pago_Pago",
}

// TestDigestCalendar: over 400 days in 40 zones (half- and quarter-hour
// offsets, both DST transitions, zones whose clocks jump at midnight) and
// digest times on and around the jumps, following NextDigest gives
// exactly one digest per local date, none missed, each at the chosen
// local time, or at the jump when that time does not exist that day.
func TestDigestCalendar(t *testing.T) {
	if len(digestZones) != 40 {
		t.Fatalf("%d zones", len(digestZones))
	}
	start := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	end := start.AddDate(0, 0, 400)
	times := [][2]int{{0, 0}, {0, 30}, {1, 30}, {2, 0}, {2, 30}, {3, 0}, {9, 0}, {23, 59}}
	sent := 0
	for _, zone := range digestZones {
		loc, err := time.LoadLocation(zone)
		if err != nil {
			t.Fatal(err)
		}
		for _, hm := range times {
			now, last := start, ""
			var prev time.Time
			for {
				at := notify.NextDigest(now, loc, hm[0], hm[1], last)
				if at.After(end) {
					break
				}
				date := notify.DigestDate(at, loc)
				local := at.In(loc)
				onTime := local.Hour() == hm[0] && local.Minute() == hm[1]
				atJump := false
				if s, _ := at.ZoneBounds(); s.Equal(at) && local.Hour()*60+local.Minute() > hm[0]*60+hm[1] {
					atJump = true
				}
				if !onTime && !atJump {
					t.Fatalf("%s %02d:%02d: digest at %s (local %s), neither on time nor at a jump", zone, hm[0], hm[1], at, local)
				}
				if last != "" {
					want := prev.In(loc)
					next := time.Date(want.Year(), want.Month(), want.Day()+1, 12, 0, 0, 0, loc).Format("2006-01-02")
					if date != next {
						t.Fatalf("%s %02d:%02d: after %s came %s (missed or twice)", zone, hm[0], hm[1], last, date)
					}
				}
				if onTime && !atJump {
					// A time that occurs twice: this is the first one.
					if e := at.Add(-time.Hour); e.In(loc).Hour() == hm[0] && e.In(loc).Minute() == hm[1] && notify.DigestDate(e, loc) == date {
						t.Fatalf("%s %02d:%02d: %s is the second occurrence", zone, hm[0], hm[1], local)
					}
				}
				sent++
				prev, last, now = at, date, at
			}
		}
	}
	if sent < 40*8*399 {
		t.Fatalf("only %d digests", sent)
	}
}

func TestDigestKnownTransitions(t *testing.T) {
	ny, _ := time.LoadLocation("America/New_York")
	// Spring forward: 2026-03-08 02:30 does not exist in New York; the
	// digest goes at the jump, 03:00 EDT (07:00 UTC).
	if at := notify.DigestAt(2026, 3, 8, 2, 30, ny); !at.Equal(time.Date(2026, 3, 8, 7, 0, 0, 0, time.UTC)) {
		t.Fatalf("spring forward: %s", at.UTC())
	}
	// Fall back: 2026-11-01 01:30 happens twice; the first is EDT (05:30 UTC).
	if at := notify.DigestAt(2026, 11, 1, 1, 30, ny); !at.Equal(time.Date(2026, 11, 1, 5, 30, 0, 0, time.UTC)) {
		t.Fatalf("fall back: %s", at.UTC())
	}
	// Kathmandu is UTC+5:45.
	ktm, _ := time.LoadLocation("Asia/Kathmandu")
	if at := notify.DigestAt(2026, 6, 1, 18, 0, ktm); !at.Equal(time.Date(2026, 6, 1, 12, 15, 0, 0, time.UTC)) {
		t.Fatalf("Kathmandu: %s", at.UTC())
	}
	// A change of time after today's digest waits for tomorrow; before it,
	// a later time today still comes today.
	now := time.Date(2026, 6, 1, 10, 0, 0, 0, time.UTC)
	if at := notify.NextDigest(now, time.UTC, 18, 0, "2026-06-01"); !at.Equal(time.Date(2026, 6, 2, 18, 0, 0, 0, time.UTC)) {
		t.Fatalf("after today's digest: %s", at)
	}
	if at := notify.NextDigest(now, time.UTC, 18, 0, "2026-05-31"); !at.Equal(time.Date(2026, 6, 1, 18, 0, 0, 0, time.UTC)) {
		t.Fatalf("before today's digest: %s", at)
	}
	if h, m, err := notify.ParseDigestTime("07:05"); err != nil || h != 7 || m != 5 {
		t.Fatal(h, m, err)
	}
	if _, _, err := notify.ParseDigestTime("24:00"); err == nil {
		t.Fatal("24:00 accepted")
	}
}
