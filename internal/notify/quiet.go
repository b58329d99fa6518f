package notify

import (
	"time"

	"roster/internal/core"
)

// Quiet hours and "pause until" hold a person's deliveries on every
// channel but the in-app centre, and never those of mandatory types.
// Held deliveries stay queued and go when the window ends, in the order
// they were made (their jobs are all due at the same instant, and the
// queue takes equal instants in id order).

// MaxQuietRanges bounds a person's quiet hours (two a day).
const MaxQuietRanges = 14

// checkQuiet validates quiet ranges into v.
func checkQuiet(v *core.Invalid, ranges []core.QuietRange) {
	if len(ranges) > MaxQuietRanges {
		v.Add("quiet_hours", "errors.notify.quiet_too_many", map[string]any{"Count": MaxQuietRanges})
		return
	}
	for i, r := range ranges {
		field := "quiet_hours[" + itoa(i) + "]"
		switch {
		case r.Day < 0 || r.Day > 6:
			v.Add(field+".day", "errors.notify.quiet_day", nil)
		case !hhmm.MatchString(r.From) || !hhmm.MatchString(r.To):
			v.Add(field, "errors.notify.quiet_time", nil)
		case r.From == r.To:
			v.Add(field, "errors.notify.quiet_empty", nil)
		}
	}
}

func itoa(i int) string {
	if i < 10 {
		return string(rune('0' + i))
	}
	return itoa(i/10) + string(rune('0'+i%10))
}

// quietSpan is the instant span of r on the local date y-m-d in loc.
func quietSpan(r core.QuietRange, y int, m time.Month, d int, loc *time.Location) (start, end time.Time) {
	fh, fm, _ := ParseDigestTime(r.From)
	th, tm, _ := ParseDigestTime(r.To)
	start = DigestAt(y, m, d, fh, fm, loc)
	endDay := d
	if r.To <= r.From {
		endDay++
	}
	end = DigestAt(y, m, endDay, th, tm, loc)
	return start, end
}

// QuietUntil is when the holds on a person's deliveries end, if now is
// inside one (quiet hours in loc, or paused), and the zero time if not.
// Back-to-back windows count as one.
func QuietUntil(now time.Time, loc *time.Location, ranges []core.QuietRange, paused time.Time) time.Time {
	t := now
	for range 2*MaxQuietRanges + 2 {
		moved := false
		if paused.After(t) {
			t, moved = paused, true
		}
		local := t.In(loc)
		// A window may have started the day before and still run.
		for back := -1; back <= 0; back++ {
			day := time.Date(local.Year(), local.Month(), local.Day()+back, 12, 0, 0, 0, loc)
			for _, r := range ranges {
				if int(day.Weekday()) != r.Day || r.From == r.To {
					continue
				}
				start, end := quietSpan(r, day.Year(), day.Month(), day.Day(), loc)
				if !t.Before(start) && t.Before(end) {
					t, moved = end, true
				}
			}
		}
		if !moved {
			break
		}
	}
	if t.Equal(now) {
		return time.Time{}
	}
	return t
}
