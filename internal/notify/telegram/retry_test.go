package telegram

import (
	"testing"
	"time"
)

// TestRetryAfterIsBounded: Telegram's retry_after is read as at least a
// second and at most an hour; a huge value neither overflows into a
// negative wait nor pauses every send for years.
func TestRetryAfterIsBounded(t *testing.T) {
	for in, want := range map[int]time.Duration{-5: time.Second, 0: time.Second, 30: 30 * time.Second, 3600: time.Hour,
		9227000000: time.Hour, 1 << 62: time.Hour} {
		if got := retryAfter(in); got != want {
			t.Errorf("retry_after %d: %s, want %s", in, got, want)
		}
	}
}
