package mail

import (
	"context"
	"fmt"
	"log/slog"
)

// OutboxStore keeps mail the DevOutbox "sent", for an admin page.
type OutboxStore interface {
	SaveOutboxMail(ctx context.Context, m Message) error
}

// DevOutbox is the Sender used when no SMTP server is configured: it logs
// that a mail was sent and stores it so an admin can read it in the UI.
// The log line holds only recipient and subject, never the body, which may
// contain a sign-in or invitation link.
type DevOutbox struct {
	Store  OutboxStore  // may be nil: mail is then only logged
	Logger *slog.Logger // defaults to slog.Default()
}

// Send logs and stores m.
func (d *DevOutbox) Send(ctx context.Context, m Message) error {
	logger := d.Logger
	if logger == nil {
		logger = slog.Default()
	}
	logger.InfoContext(ctx, "mail: no SMTP server configured; mail kept in the dev outbox",
		slog.String("to", m.To), slog.String("subject", m.Subject))
	if d.Store == nil {
		return nil
	}
	if err := d.Store.SaveOutboxMail(ctx, m); err != nil {
		return fmt.Errorf("mail: save to dev outbox: %w", err)
	}
	return nil
}
