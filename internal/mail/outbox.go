package mail

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"log/slog"
	"strings"
)

// OutboxStore keeps mail the DevOutbox "sent", for an admin page.
type OutboxStore interface {
	SaveOutboxMail(ctx context.Context, m Message) error
}

// DevOutbox is the Sender used when no SMTP server is configured: it logs
// that a mail was sent and stores it so an admin of the recipient's
// workspace can read it in the UI. The log line holds the kind of mail, the
// workspace and a hash of the recipient: never the subject or body, which
// may carry a sign-in code or a one-time link.
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
		slog.String("template", m.Template), slog.Int64("workspace_id", m.WorkspaceID), slog.String("to_hash", RecipientHash(m.To)))
	if d.Store == nil {
		return nil
	}
	if err := d.Store.SaveOutboxMail(ctx, m); err != nil {
		return fmt.Errorf("mail: save to dev outbox: %w", err)
	}
	return nil
}

// RecipientHash identifies an address in logs without writing it: the
// first 8 bytes of its SHA-256, so lines about one recipient can be matched
// (hash the address you look for) while the log holds no address.
func RecipientHash(addr string) string {
	sum := sha256.Sum256([]byte(strings.ToLower(strings.TrimSpace(addr))))
	return hex.EncodeToString(sum[:8])
}
