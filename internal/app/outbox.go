package app

import (
	"context"

	"roster/internal/core"
	"roster/internal/mail"
	"roster/internal/store"
)

// outboxStore keeps dev-outbox mail in the database.
type outboxStore struct{ db *store.DB }

func (o outboxStore) SaveOutboxMail(ctx context.Context, m mail.Message) error {
	return o.db.Writer().SaveOutboxMail(ctx, &core.OutboxMail{WorkspaceID: m.WorkspaceID, To: m.To, Subject: m.Subject, Text: m.Text, HTML: m.HTML, Lang: m.Lang})
}
