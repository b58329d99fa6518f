package notify_test

import (
	"fmt"
	"os"
	"strings"
	"testing"
	"time"

	"roster/internal/mail"
	"roster/internal/notify"
)

// TestDocumentedFigures: the figures docs/notifications.md gives are the
// ones the code uses.
func TestDocumentedFigures(t *testing.T) {
	b, err := os.ReadFile("../../docs/notifications.md")
	if err != nil {
		t.Fatal(err)
	}
	doc := strings.Join(strings.Fields(string(b)), " ")
	for _, want := range []string{
		fmt.Sprintf("every %d s on the queue's leader", notify.DigestTick/time.Second),
		fmt.Sprintf("the %d newest", notify.DigestShown),
		fmt.Sprintf("internal messages wait %d minutes", notify.ChatDelay/time.Minute),
		fmt.Sprintf("up to %d, plus", notify.MaxQuietRanges),
		fmt.Sprintf("keeps up to %d SMTP connections", mail.DefaultSMTPConnections),
		fmt.Sprintf("fresh %d-hour retry window", notify.DefaultRetryFor/time.Hour),
	} {
		if !strings.Contains(doc, want) {
			t.Errorf("docs/notifications.md does not say %q", want)
		}
	}
}
