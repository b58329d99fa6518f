package core

import "time"

// TelegramLink is a person's Telegram chat, where the Telegram channel
// sends their notifications.
type TelegramLink struct {
	UserID      int64
	WorkspaceID int64
	ChatID      int64
	Username    string // @name without the @, "" when the account has none
	LinkedAt    time.Time
}
