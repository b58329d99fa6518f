package notify

import (
	"slices"
	"time"

	"roster/internal/core"
)

// Channel names a way a notification reaches a person. The values are a
// public contract (API, settings).
type Channel string

// Channels, in the order pages show them.
const (
	InApp    Channel = "in_app"
	Email    Channel = "email"
	Mobile   Channel = "mobile"
	Browser  Channel = "browser"
	Telegram Channel = "telegram"
)

// Channels lists every channel in display order.
var Channels = []Channel{InApp, Email, Mobile, Browser, Telegram}

// Switchable reports whether a person can turn ch off for a type: the
// in-app centre records everything (as in Kommo, it cannot be turned off).
func (ch Channel) Switchable() bool { return ch != InApp }

// ChannelOf returns the channel named s.
func ChannelOf(s string) (Channel, bool) {
	c := Channel(s)
	return c, slices.Contains(Channels, c)
}

// Category groups event types on pages and in filters.
type Category string

// Categories, in display order.
const (
	CategoryCalls    Category = "calls"
	CategoryEmail    Category = "email"
	CategoryChats    Category = "chats"
	CategoryLeads    Category = "leads"
	CategoryMessages Category = "messages"
	CategoryTasks    Category = "tasks"
	CategorySystem   Category = "system"
	CategorySecurity Category = "security"
)

// Categories lists every category in display order.
var Categories = []Category{CategoryCalls, CategoryEmail, CategoryChats, CategoryLeads, CategoryMessages,
	CategoryTasks, CategorySystem, CategorySecurity}

// FieldKind is the JSON type of an event data field.
type FieldKind string

// Field kinds.
const (
	Text  FieldKind = "string"  // up to MaxText characters (MaxTitle for "title")
	Count FieldKind = "integer" // 0 to MaxCount; picks the plural form of the body
	Enum  FieldKind = "enum"    // one of Field.Values; picks the body's variant
	Link  FieldKind = "url"     // an absolute http(s) URL
)

// Limits of event data.
const (
	MaxTitle = 200
	MaxText  = 1000
	MaxCount = 1_000_000
	MaxURL   = 2048
)

// Field is one data field an event type takes.
type Field struct {
	Name     string
	Kind     FieldKind
	Required bool
	Values   []string // for Enum
}

// Type is one kind of notification. The catalogue below is the one place
// types are defined; their texts live in the notify.<lang>.json catalogs
// under notify.type.<key>.{name,description,title,body}.
type Type struct {
	Key       string
	Category  Category
	Mandatory bool      // security notices: always delivered, not switchable
	Defaults  []Channel // channels on for a person who changed nothing (in-app is always on)
	Fields    []Field   // beyond title (required) and url (optional), which every type takes
	// BodyBy names the Enum field whose value picks the body message
	// (notify.type.<key>.body.<value>); "" for one body.
	BodyBy string
	// CountBy names the Count field that picks the body's plural form.
	CountBy string
	// Delay holds the type's deliveries on channels other than the
	// centre this long, so one read in the centre meanwhile is not sent
	// (read suppression).
	Delay time.Duration
}

// Field returns the type's field called name (title and url included).
func (t *Type) Field(name string) (Field, bool) {
	for _, f := range t.AllFields() {
		if f.Name == name {
			return f, true
		}
	}
	return Field{}, false
}

// AllFields returns every data field of the type: title, the type's own,
// then url.
func (t *Type) AllFields() []Field {
	out := make([]Field, 0, len(t.Fields)+2)
	out = append(out, Field{Name: "title", Kind: Text, Required: true})
	out = append(out, t.Fields...)
	return append(out, Field{Name: "url", Kind: Link})
}

// DefaultOn reports whether ch is on for the type when nobody chose.
func (t *Type) DefaultOn(ch Channel) bool {
	return ch == InApp || t.Mandatory || slices.Contains(t.Defaults, ch)
}

var (
	from = Field{Name: "from", Kind: Text, Required: true}
	text = Field{Name: "text", Kind: Text, Required: true}
)

// ChatDelay is how long chat messages wait before leaving the centre: a
// conversation going on in an open tab should not also ring the phone.
const ChatDelay = 2 * time.Minute

// catalogue is every event type, in display order.
var catalogue = []*Type{
	{Key: "call.incoming", Category: CategoryCalls, Defaults: []Channel{Browser, Mobile}},
	{Key: "call.missed", Category: CategoryCalls, Defaults: []Channel{Browser, Mobile}},
	{Key: "email.incoming", Category: CategoryEmail, Defaults: []Channel{Browser}, Fields: []Field{from}},
	{Key: "chat.message", Category: CategoryChats, Defaults: []Channel{Browser, Mobile}, Fields: []Field{text}, Delay: ChatDelay},
	{Key: "lead.incoming", Category: CategoryLeads, Defaults: []Channel{Email, Browser, Mobile}, BodyBy: "source",
		Fields: []Field{{Name: "source", Kind: Enum, Required: true, Values: []string{"call", "chat", "form", "email"}}}},
	{Key: "message.internal", Category: CategoryMessages, Defaults: []Channel{Browser, Mobile}, Fields: []Field{text}, Delay: ChatDelay},
	{Key: "chat.group", Category: CategoryMessages, Defaults: nil, Fields: []Field{from, text}, Delay: ChatDelay},
	{Key: "mention", Category: CategoryMessages, Defaults: []Channel{Email, Browser, Mobile}, Fields: []Field{from}},
	{Key: "task.assigned", Category: CategoryTasks, Defaults: []Channel{Email, Browser, Mobile}, Fields: []Field{from}},
	{Key: "task.due", Category: CategoryTasks, Defaults: []Channel{Browser, Mobile}, CountBy: "minutes",
		Fields: []Field{{Name: "minutes", Kind: Count, Required: true}}},
	{Key: "task.completed", Category: CategoryTasks, Defaults: []Channel{Email}, Fields: []Field{from}},
	{Key: "system.billing", Category: CategorySystem, Defaults: []Channel{Email}, CountBy: "days",
		Fields: []Field{{Name: "days", Kind: Count, Required: true}}},
	{Key: "system.api_blocked", Category: CategorySystem, Defaults: []Channel{Email}},
	{Key: "system.webhook_disabled", Category: CategorySystem, Defaults: []Channel{Email}},
	{Key: "system.report", Category: CategorySystem, Defaults: []Channel{Email}},

	// Roster's own security notices come from the event recorder; their
	// data is filled in by Roster, never by an integration.
	{Key: string(core.NoticePasswordChanged), Category: CategorySecurity, Mandatory: true, Defaults: []Channel{Email}},
	{Key: string(core.NoticeEmailChangeRequested), Category: CategorySecurity, Mandatory: true, Defaults: []Channel{Email}},
	{Key: string(core.NoticeEmailChanged), Category: CategorySecurity, Mandatory: true, Defaults: []Channel{Email}},
	{Key: string(core.NoticeTwoFactorEnabled), Category: CategorySecurity, Mandatory: true, Defaults: []Channel{Email}, BodyBy: "method",
		Fields: []Field{{Name: "method", Kind: Enum, Required: true, Values: []string{"totp", "email"}}}},
	{Key: string(core.NoticeTwoFactorDisabled), Category: CategorySecurity, Mandatory: true, Defaults: []Channel{Email}, BodyBy: "method",
		Fields: []Field{{Name: "method", Kind: Enum, Required: true, Values: []string{"totp", "email"}}}},
	{Key: string(core.NoticeTwoFactorReset), Category: CategorySecurity, Mandatory: true, Defaults: []Channel{Email}},
	{Key: string(core.NoticeNewDevice), Category: CategorySecurity, Mandatory: true, Defaults: []Channel{Email},
		Fields: []Field{{Name: "ip", Kind: Text, Required: true}}},
}

var byKey = func() map[string]*Type {
	m := make(map[string]*Type, len(catalogue))
	for _, t := range catalogue {
		m[t.Key] = t
	}
	return m
}()

// Types returns the catalogue in display order. Callers must not change it.
func Types() []*Type { return catalogue }

// TypeOf returns the type with key.
func TypeOf(key string) (*Type, bool) {
	t, ok := byKey[key]
	return t, ok
}

// Internal reports whether only Roster itself raises the type (security
// notices): integrations cannot post them.
func (t *Type) Internal() bool { return t.Category == CategorySecurity }
