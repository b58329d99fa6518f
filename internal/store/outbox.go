package store

import (
	"context"
	"fmt"

	"roster/internal/core"
)

// SaveOutboxMail keeps a mail in the dev outbox.
func (q *Q) SaveOutboxMail(ctx context.Context, m *core.OutboxMail) error {
	m.CreatedAt = q.now()
	id, err := q.insert(ctx, "INSERT INTO dev_outbox (to_addr, subject, text_body, html_body, lang, created_at) VALUES (?, ?, ?, ?, ?, ?)",
		m.To, m.Subject, m.Text, m.HTML, m.Lang, ms(m.CreatedAt))
	if err != nil {
		return fmt.Errorf("save outbox mail: %w", err)
	}
	m.ID = id
	return nil
}

// OutboxMails returns the newest dev-outbox mails first.
func (q *Q) OutboxMails(ctx context.Context, limit int) ([]*core.OutboxMail, error) {
	rows, err := q.query(ctx, "SELECT id, to_addr, subject, text_body, html_body, lang, created_at FROM dev_outbox ORDER BY id DESC LIMIT ?", limit)
	return collect(rows, err, "outbox", func(row scanner) (*core.OutboxMail, error) {
		var m core.OutboxMail
		var created int64
		if err := row.Scan(&m.ID, &m.To, &m.Subject, &m.Text, &m.HTML, &m.Lang, &created); err != nil {
			return nil, fmt.Errorf("read outbox mail: %w", err)
		}
		m.CreatedAt = fromMS(created)
		return &m, nil
	})
}
