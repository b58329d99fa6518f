// Package email is the email channel of notifications: one email per
// delivery, sent through the one mailer (SMTP, or the dev outbox), in the
// recipient's language from the embedded templates, with a one-click
// unsubscribe link (RFC 8058) on everything but security notices.
package email

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"strings"

	"roster/internal/core"
	"roster/internal/mail"
	"roster/internal/notify"
	"roster/internal/store"
)

// Config is what the channel is built from.
type Config struct {
	Sender  mail.Sender // SMTP, or the dev outbox
	Texts   func(lang string) mail.Translator
	BaseURL string // for links
	// MAC signs the one-click unsubscribe links (secrets.Box.MAC).
	MAC func(string) []byte
	// Workspaces names a workspace in the mail.
	Workspaces func(ctx context.Context, id int64) (string, error)
}

// Channel sends notifications by email.
type Channel struct {
	c    Config
	host string // the base URL's host, the right side of Message-IDs
}

var _ notify.Adapter = (*Channel)(nil)

// New returns the email channel.
func New(c Config) (*Channel, error) {
	if c.Sender == nil || c.Texts == nil || c.MAC == nil || c.Workspaces == nil {
		return nil, errors.New("email: Config needs Sender, Texts, MAC and Workspaces")
	}
	base, err := url.Parse(c.BaseURL)
	if err != nil || c.BaseURL == "" {
		return nil, fmt.Errorf("email: base URL %q", c.BaseURL)
	}
	return &Channel{c: c, host: messageIDHost(base)}, nil
}

// messageIDHost is the right-hand side of Message-IDs (RFC 5322 3.6.4):
// the base URL's host name, an IPv6 address in brackets (its colons are no
// dot-atom), localhost when there is none.
func messageIDHost(base *url.URL) string {
	host := base.Hostname()
	switch {
	case host == "":
		return "localhost"
	case strings.Contains(host, ":"):
		return "[" + host + "]"
	}
	return host
}

// Channel implements notify.Adapter.
func (*Channel) Channel() notify.Channel { return notify.Email }

// Reach implements notify.Adapter: everyone with an address, except those
// who chose the daily digest (their email comes once a day).
func (ch *Channel) Reach(ctx context.Context, q *store.Q, users []*core.User) (map[int64]string, error) {
	ids := make([]int64, len(users))
	for i, u := range users {
		ids[i] = u.ID
	}
	switches, err := q.NotifySettingsOf(ctx, ids)
	if err != nil {
		return nil, err
	}
	out := make(map[int64]string)
	for _, u := range users {
		if s, ok := switches[u.ID]; ok && s.EmailTiming == core.EmailDaily {
			out[u.ID] = notify.UnusableDigest
		}
	}
	return out, nil
}

// Headers of a notification mail that can be turned off in one click.
const (
	HeaderListUnsubscribe     = "List-Unsubscribe"
	HeaderListUnsubscribePost = "List-Unsubscribe-Post"
)

// Send implements notify.Adapter. A permanent SMTP failure (a 5xx for the
// recipient) fails the delivery; anything else is retried.
func (ch *Channel) Send(ctx context.Context, m *notify.Message) error {
	msg, err := ch.Compose(ctx, m)
	if err != nil {
		return &notify.SendError{Err: err, Permanent: true}
	}
	if err := ch.c.Sender.Send(ctx, msg); err != nil {
		return &notify.SendError{Err: err, Permanent: mail.IsPermanent(err)}
	}
	return nil
}

// Compose renders the mail of one delivery.
func (ch *Channel) Compose(ctx context.Context, m *notify.Message) (mail.Message, error) {
	u, n := m.User, m.Notification
	workspace, err := ch.c.Workspaces(ctx, u.WorkspaceID)
	if err != nil {
		return mail.Message{}, err
	}
	link := n.URL
	if link == "" {
		link = ch.c.BaseURL + "/notifications"
	}
	data := map[string]any{"Name": u.Name, "Workspace": workspace, "Title": n.Title, "Body": n.Body, "Link": link,
		"SettingsURL": ch.c.BaseURL + "/settings/notifications", "Unsubscribe": ""}
	headers := map[string]string{}
	if token := notify.UnsubscribeToken(ch.c.MAC, u.ID, n.Type); token != "" {
		unsub := ch.c.BaseURL + "/unsubscribe/" + token
		data["Unsubscribe"] = unsub
		headers[HeaderListUnsubscribe] = "<" + unsub + ">"
		headers[HeaderListUnsubscribePost] = "List-Unsubscribe=One-Click"
	}
	subject, text, html, err := mail.Render("notification", ch.c.Texts(u.Language), u.Language, data)
	if err != nil {
		return mail.Message{}, err
	}
	msg := mail.Message{To: u.Email, Subject: subject, Text: text, HTML: html, Lang: u.Language, Template: "notification",
		WorkspaceID: u.WorkspaceID, Headers: headers}
	if d := m.Delivery; d != nil && d.ID > 0 {
		// The delivery's id and creation instant: the same for every try,
		// never the same for two deliveries, even of another database
		// whose ids started again.
		msg.MessageID = fmt.Sprintf("delivery.%d.%d@%s", d.ID, d.CreatedAt.UnixMilli(), ch.host)
	}
	return msg, nil
}

var _ notify.DigestSender = (*Channel)(nil)

// SendDigest implements notify.DigestSender: the daily digest, with the
// newest unread notifications, the count of the rest and a one-click link
// that stops these emails.
func (ch *Channel) SendDigest(ctx context.Context, u *core.User, d *notify.Digest) error {
	msg, err := ch.ComposeDigest(ctx, u, d)
	if err != nil {
		return &notify.SendError{Err: err, Permanent: true}
	}
	if err := ch.c.Sender.Send(ctx, msg); err != nil {
		return &notify.SendError{Err: err, Permanent: mail.IsPermanent(err)}
	}
	return nil
}

// digestItem is one notification in a digest mail.
type digestItem struct{ Title, Body, Link string }

// ComposeDigest renders the digest mail of u.
func (ch *Channel) ComposeDigest(ctx context.Context, u *core.User, d *notify.Digest) (mail.Message, error) {
	workspace, err := ch.c.Workspaces(ctx, u.WorkspaceID)
	if err != nil {
		return mail.Message{}, err
	}
	centre := ch.c.BaseURL + "/notifications"
	items := make([]digestItem, 0, len(d.Items))
	for _, n := range d.Items {
		link := n.URL
		if link == "" {
			link = centre
		}
		items = append(items, digestItem{Title: n.Title, Body: n.Body, Link: link})
	}
	unsub := ch.c.BaseURL + "/unsubscribe/" + notify.UnsubscribeToken(ch.c.MAC, u.ID, notify.DigestKey)
	data := map[string]any{"Name": u.Name, "Workspace": workspace, "Total": d.Total, "Items": items, "More": d.Total - len(items),
		"CentreURL": centre, "SettingsURL": ch.c.BaseURL + "/settings/notifications", "Unsubscribe": unsub}
	subject, text, html, err := mail.Render("digest", ch.c.Texts(u.Language), u.Language, data)
	if err != nil {
		return mail.Message{}, err
	}
	return mail.Message{To: u.Email, Subject: subject, Text: text, HTML: html, Lang: u.Language, Template: "digest",
		WorkspaceID: u.WorkspaceID, Headers: map[string]string{
			HeaderListUnsubscribe:     "<" + unsub + ">",
			HeaderListUnsubscribePost: "List-Unsubscribe=One-Click",
		},
		// One digest per person and local date: the same for every try.
		MessageID: fmt.Sprintf("digest.%d.%d.%s@%s", u.ID, u.CreatedAt.UnixMilli(), d.LocalDate, ch.host)}, nil
}
