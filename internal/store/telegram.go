package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"roster/internal/core"
)

// Telegram links, the one-time tokens that make them, and the long-polling
// offset.

// AddTelegramLinkToken stores the hash of a new "Connect Telegram" token
// of userID, usable until expires.
func (q *Q) AddTelegramLinkToken(ctx context.Context, workspaceID, userID int64, hash []byte, expires time.Time) error {
	now := q.now()
	// Spent and expired tokens of anyone are dropped on the way: the
	// table holds only what can still be claimed (and a day of history).
	if _, err := q.exec(ctx, "DELETE FROM telegram_link_tokens WHERE expires_at < ?", ms(now.Add(-24*time.Hour))); err != nil {
		return fmt.Errorf("drop old telegram tokens: %w", err)
	}
	if _, err := q.exec(ctx, `INSERT INTO telegram_link_tokens (token_hash, user_id, workspace_id, expires_at, used, created_at)
		VALUES (?, ?, ?, ?, ?, ?)`, hash, userID, workspaceID, ms(expires), false, ms(now)); err != nil {
		return fmt.Errorf("store telegram token: %w", err)
	}
	return nil
}

// ClaimTelegramLinkToken spends the token whose hash is given, if it is
// unused and not expired at now, in one statement: of two concurrent
// claims one gets the owner, the other ok false.
func (q *Q) ClaimTelegramLinkToken(ctx context.Context, hash []byte, now time.Time) (workspaceID, userID int64, ok bool, err error) {
	err = q.row(ctx, `UPDATE telegram_link_tokens SET used = ?
		WHERE token_hash = ? AND used = ? AND expires_at > ? RETURNING workspace_id, user_id`, true, hash, false, ms(now)).
		Scan(&workspaceID, &userID)
	if errors.Is(err, sql.ErrNoRows) {
		return 0, 0, false, nil
	}
	if err != nil {
		return 0, 0, false, fmt.Errorf("claim telegram token: %w", err)
	}
	return workspaceID, userID, true, nil
}

// LinkTelegram links l.UserID to l.ChatID, replacing a previous link of
// that person.
func (q *Q) LinkTelegram(ctx context.Context, l core.TelegramLink) error {
	if _, err := q.exec(ctx, `INSERT INTO telegram_links (user_id, workspace_id, chat_id, username, linked_at) VALUES (?, ?, ?, ?, ?)
		ON CONFLICT (user_id) DO UPDATE SET chat_id = excluded.chat_id, username = excluded.username, linked_at = excluded.linked_at`,
		l.UserID, l.WorkspaceID, l.ChatID, l.Username, ms(l.LinkedAt)); err != nil {
		return fmt.Errorf("link telegram: %w", err)
	}
	return nil
}

const telegramLinkCols = "user_id, workspace_id, chat_id, username, linked_at"

func scanTelegramLink(s scanner) (*core.TelegramLink, error) {
	var l core.TelegramLink
	var at int64
	if err := s.Scan(&l.UserID, &l.WorkspaceID, &l.ChatID, &l.Username, &at); err != nil {
		return nil, err
	}
	l.LinkedAt = fromMS(at)
	return &l, nil
}

// TelegramLink returns userID's link, core.ErrNotFound when none.
func (q *Q) TelegramLink(ctx context.Context, workspaceID, userID int64) (*core.TelegramLink, error) {
	l, err := scanTelegramLink(q.row(ctx, "SELECT "+telegramLinkCols+" FROM telegram_links WHERE workspace_id = ? AND user_id = ?",
		workspaceID, userID))
	if errors.Is(err, sql.ErrNoRows) {
		return nil, core.ErrNotFound
	}
	if err != nil {
		return nil, fmt.Errorf("read telegram link: %w", err)
	}
	return l, nil
}

// TelegramLinked returns which of userIDs (of workspaceID) have a link.
func (q *Q) TelegramLinked(ctx context.Context, workspaceID int64, userIDs []int64) (map[int64]bool, error) {
	return q.usersWithRows(ctx, "telegram_links", workspaceID, userIDs)
}

// UnlinkTelegram removes userID's link; with chatID not 0, only while it
// is still that chat (a send that found the chat dead must not remove a
// link made since). It reports whether a link was removed.
func (q *Q) UnlinkTelegram(ctx context.Context, workspaceID, userID, chatID int64) (bool, error) {
	query, args := "DELETE FROM telegram_links WHERE workspace_id = ? AND user_id = ?", []any{workspaceID, userID}
	if chatID != 0 {
		query, args = query+" AND chat_id = ?", append(args, chatID)
	}
	res, err := q.exec(ctx, query, args...)
	if err != nil {
		return false, fmt.Errorf("unlink telegram: %w", err)
	}
	n, err := res.RowsAffected()
	return n > 0, err
}

// UnlinkTelegramChat removes every link to chatID, in any workspace: the
// person behind the chat said /stop, which speaks for all of their links.
func (q *Q) UnlinkTelegramChat(ctx context.Context, chatID int64) ([]*core.TelegramLink, error) {
	rows, err := q.query(ctx, "DELETE FROM telegram_links WHERE chat_id = ? RETURNING "+telegramLinkCols, chatID)
	return collect(rows, err, "unlinked telegram chats", scanTelegramLink)
}

// TelegramOffset returns the next getUpdates offset of botID, 0 when none
// was stored.
func (q *Q) TelegramOffset(ctx context.Context, botID int64) (int64, error) {
	var off int64
	err := q.row(ctx, "SELECT next_offset FROM telegram_offsets WHERE bot_id = ?", botID).Scan(&off)
	if errors.Is(err, sql.ErrNoRows) {
		return 0, nil
	}
	if err != nil {
		return 0, fmt.Errorf("read telegram offset: %w", err)
	}
	return off, nil
}

// SetTelegramOffset stores botID's next offset; it never moves back.
func (q *Q) SetTelegramOffset(ctx context.Context, botID, next int64) error {
	if _, err := q.exec(ctx, `INSERT INTO telegram_offsets (bot_id, next_offset) VALUES (?, ?)
		ON CONFLICT (bot_id) DO UPDATE SET next_offset = excluded.next_offset WHERE telegram_offsets.next_offset < excluded.next_offset`,
		botID, next); err != nil {
		return fmt.Errorf("store telegram offset: %w", err)
	}
	return nil
}
