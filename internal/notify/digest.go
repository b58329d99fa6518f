package notify

import (
	"fmt"
	"time"
)

// The daily digest is sent once per person and local date, at the time
// they chose in their zone. These functions decide when; they hold the
// calendar rules, so the sender only compares instants.

// ParseDigestTime reads "HH:MM".
func ParseDigestTime(s string) (hour, minute int, err error) {
	if !hhmm.MatchString(s) {
		return 0, 0, fmt.Errorf("digest time %q is not HH:MM", s)
	}
	return int(s[0]-'0')*10 + int(s[1]-'0'), int(s[3]-'0')*10 + int(s[4]-'0'), nil
}

// DigestAt is the instant of the digest for the local date y-m-d at
// hour:minute in loc:
//   - when that local time does not exist (the clocks jump over it, spring
//     forward), the first instant after the jump;
//   - when it occurs twice (the clocks go back), the first occurrence.
func DigestAt(y int, m time.Month, d, hour, minute int, loc *time.Location) time.Time {
	t := time.Date(y, m, d, hour, minute, 0, 0, loc)
	same := func(u time.Time) bool {
		uy, um, ud := u.Date()
		return uy == y && um == m && ud == d && u.Hour() == hour && u.Minute() == minute
	}
	if !same(t) {
		// In a gap: Go gave the wall time read in one of the two offsets,
		// so t lies on one side of the jump; the jump is the answer.
		wanted := time.Date(y, m, d, hour, minute, 0, 0, time.UTC)
		shown := time.Date(t.Year(), t.Month(), t.Day(), t.Hour(), t.Minute(), 0, 0, time.UTC)
		start, end := t.ZoneBounds()
		if shown.After(wanted) {
			return start
		}
		return end
	}
	// Occurring twice: take the earliest instant with the same wall time
	// (offset changes are multiples of 15 minutes, at most 2 hours).
	first := t
	for k := 1; k <= 8; k++ {
		if u := t.Add(-time.Duration(k) * 15 * time.Minute); same(u) {
			first = u
		}
	}
	return first
}

// NextDigest is the first digest instant after now for a person whose
// digest time is hour:minute in loc. lastDate is the local date (as
// "2006-01-02") of the last digest sent, "" for none: a person who
// changes their time or zone after today's digest gets the next one
// tomorrow, never a second one today.
func NextDigest(now time.Time, loc *time.Location, hour, minute int, lastDate string) time.Time {
	local := now.In(loc)
	for i := -1; i <= 3; i++ {
		d := time.Date(local.Year(), local.Month(), local.Day()+i, 12, 0, 0, 0, loc)
		if d.Format("2006-01-02") <= lastDate {
			continue
		}
		if at := DigestAt(d.Year(), d.Month(), d.Day(), hour, minute, loc); at.After(now) {
			return at
		}
	}
	// Unreachable for real zones: a date within three days always has
	// its digest instant ahead.
	panic("notify: no digest instant within three days")
}

// DigestDate is the local date a digest sent at at belongs to: the one
// it was due on. A digest due at a skipped time is sent at the jump, on
// the same local date.
func DigestDate(at time.Time, loc *time.Location) string {
	return at.In(loc).Format("2006-01-02")
}
