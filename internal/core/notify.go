package core

import "time"

// NotifyEvent is something that happened in the CRM (or in Roster) that
// people are told about: taken in once, fanned out to its recipients.
type NotifyEvent struct {
	ID          int64
	WorkspaceID int64
	Type        string         // a catalogue key (package notify)
	Data        map[string]any // the type's fields: strings and integers
	Recipients  []int64        // user ids; empty with AllUsers
	AllUsers    bool           // every active user of the workspace at fan-out
	ActorID     int64          // the user whose token posted it; 0 for Roster itself
	DedupeKey   string         // "" for none
	OccurredAt  time.Time
	CreatedAt   time.Time
}

// Notification is one event as one person sees it in the in-app centre,
// rendered in their language when it was fanned out.
type Notification struct {
	ID          int64
	WorkspaceID int64
	UserID      int64
	EventID     int64
	Type        string
	Category    string
	Title       string
	Body        string
	URL         string
	// Popup: the person's browser channel was on for this type, so an
	// open page shows it as a pop-up.
	Popup     bool
	CreatedAt time.Time
	ReadAt    time.Time // zero while unread
}

// Delivery is one event to one person on one channel other than the
// in-app centre (whose delivery is the Notification itself).
type Delivery struct {
	ID          int64
	WorkspaceID int64
	EventID     int64
	UserID      int64
	Channel     string
	Status      string // queued, sent, failed, skipped
	Reason      string // why skipped or failed
	Attempts    int
	LastError   string
	CreatedAt   time.Time
	UpdatedAt   time.Time
}

// Delivery statuses.
const (
	DeliveryQueued  = "queued"
	DeliverySent    = "sent"
	DeliveryFailed  = "failed"
	DeliverySkipped = "skipped"
)

// FeedEntry is one change a person's open streams are told about, numbered
// per person.
type FeedEntry struct {
	UserID         int64
	Seq            int64
	Kind           string // FeedNew, FeedRead, FeedUnread, FeedReadAll
	NotificationID int64
	Unread         int64 // the unread count after the change
	CreatedAt      time.Time
	// Note is the new notification of a FeedNew entry as published by the
	// fan-out, so that streams on the same instance send it without
	// reading it back; nil when read from the database.
	Note *Notification
}

// Feed entry kinds.
const (
	FeedNew     = "new"
	FeedRead    = "read"
	FeedUnread  = "unread"
	FeedReadAll = "read_all"
)

// NotifySettings are a person's own notification switches.
type NotifySettings struct {
	Receive     bool   // the master switch
	EmailTiming string // EmailInstant or EmailDaily
	DigestTime  string // HH:MM in the person's zone, for EmailDaily
	// Quiet are the person's quiet hours: deliveries other than the
	// in-app centre and mandatory types wait until they end.
	Quiet []QuietRange
	// PausedUntil holds those deliveries until then (zero: not paused).
	PausedUntil time.Time
	UpdatedAt   time.Time
}

// QuietRange is a span of quiet hours starting on a weekday (0 Sunday ...
// 6 Saturday) at From and ending at To (HH:MM, local time), the next day
// when To is not after From (22:00–07:00).
type QuietRange struct {
	Day  int    `json:"day"`
	From string `json:"from"`
	To   string `json:"to"`
}

// Email timings.
const (
	EmailInstant = "instant"
	EmailDaily   = "daily"
)

// NotifyPref is one chosen cell of the event type × channel matrix; UserID
// 0 is the workspace's default.
type NotifyPref struct {
	UserID  int64
	Type    string
	Channel string
	Enabled bool
}
