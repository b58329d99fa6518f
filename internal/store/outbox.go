package store

import (
	"context"
	"fmt"

	"roster/internal/core"
)

// SaveOutboxMail keeps a mail in the dev outbox.
func (q *Q) SaveOutboxMail(ctx context.Context, m *core.OutboxMail) error {
	m.CreatedAt = q.now()
	id, err := q.insert(ctx, "INSERT INTO dev_outbox (workspace_id, to_addr, subject, text_body, html_body, lang, created_at) VALUES (?, ?, ?, ?, ?, ?, ?)",
		m.WorkspaceID, m.To, m.Subject, m.Text, m.HTML, m.Lang, ms(m.CreatedAt))
	if err != nil {
		return fmt.Errorf("save outbox mail: %w", err)
	}
	m.ID = id
	return nil
}

// OutboxMails returns the newest dev-outbox mails to people of one
// workspace first. The outbox holds other workspaces' reset links and
// codes, so there is no unfiltered read.
func (q *Q) OutboxMails(ctx context.Context, workspaceID int64, limit int) ([]*core.OutboxMail, error) {
	rows, err := q.query(ctx, "SELECT id, workspace_id, to_addr, subject, text_body, html_body, lang, created_at FROM dev_outbox WHERE workspace_id = ? ORDER BY id DESC LIMIT ?",
		workspaceID, limit)
	return collect(rows, err, "outbox", func(row scanner) (*core.OutboxMail, error) {
		var m core.OutboxMail
		var created int64
		if err := row.Scan(&m.ID, &m.WorkspaceID, &m.To, &m.Subject, &m.Text, &m.HTML, &m.Lang, &created); err != nil {
			return nil, fmt.Errorf("read outbox mail: %w", err)
		}
		m.CreatedAt = fromMS(created)
		return &m, nil
	})
}
