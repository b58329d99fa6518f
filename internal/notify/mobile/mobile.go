// Package mobile is the mobile push channel of notifications: the devices
// the app registers (Devices) and the adapter (Channel) that sends each
// delivery to every device of its person through FCM (package fcm) or
// APNs (package apns), whichever the operator configured.
package mobile

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"strings"
	"time"

	"roster/internal/core"
	"roster/internal/notify"
	"roster/internal/notify/mobile/push"
	"roster/internal/secrets"
	"roster/internal/store"
)

// Sender sends one message to one device token: *fcm.Client, *apns.Client.
type Sender interface {
	Send(ctx context.Context, m *push.Message) error
}

// Config is what the channel is built from. At least one of FCM and APNs
// is set; a provider left nil is not configured.
type Config struct {
	DB      *store.DB
	Secrets *secrets.Box // opens the sealed device tokens
	FCM     Sender
	APNs    Sender
	// BaseURL is Roster's public URL: a notification without a link
	// opens the in-app centre.
	BaseURL string
	Logger  *slog.Logger
	Now     func() time.Time
}

// Channel sends notifications to the mobile app.
type Channel struct {
	c       Config
	devices *Devices
	senders map[string]Sender // provider → sender, configured ones only
}

var _ notify.Adapter = (*Channel)(nil)

// New returns the mobile channel.
func New(c Config) (*Channel, error) {
	if c.DB == nil || c.Secrets == nil {
		return nil, errors.New("mobile: Config needs DB and Secrets")
	}
	ch := &Channel{c: c, devices: NewDevices(c.DB, c.Secrets), senders: map[string]Sender{}}
	if c.FCM != nil {
		ch.senders[core.ProviderFCM] = c.FCM
	}
	if c.APNs != nil {
		ch.senders[core.ProviderAPNs] = c.APNs
	}
	if len(ch.senders) == 0 {
		return nil, errors.New("mobile: neither FCM nor APNs is configured")
	}
	if ch.c.Logger == nil {
		ch.c.Logger = slog.Default()
	}
	if ch.c.Now == nil {
		ch.c.Now = time.Now
	}
	ch.c.BaseURL = strings.TrimSuffix(c.BaseURL, "/")
	return ch, nil
}

// Channel implements notify.Adapter.
func (*Channel) Channel() notify.Channel { return notify.Mobile }

// Reach implements notify.Adapter: a person is reached when they have a
// device whose push service is configured (an Android phone needs FCM;
// an iPhone needs APNs, or FCM when its app registered an FCM token).
func (ch *Channel) Reach(ctx context.Context, q *store.Q, users []*core.User) (map[int64]string, error) {
	out := make(map[int64]string)
	for ws, ids := range notify.ByWorkspace(users) {
		providers, err := q.MobileProviders(ctx, ws, ids)
		if err != nil {
			return nil, err
		}
		for _, id := range ids {
			reached := false
			for _, p := range providers[id] {
				reached = reached || ch.senders[p] != nil
			}
			if !reached {
				out[id] = notify.UnusableNoDevice
			}
		}
	}
	return out, nil
}

// outcome is what happened on one device.
type outcome struct {
	dev *core.MobileDevice
	err *push.Error // nil: sent
}

// Send implements notify.Adapter: the message goes to every device of the
// person. Devices their service calls gone are removed (an APNs token
// unless it registered again after APNs' timestamp). When any device
// failed for now, the delivery is retried (on every device, after the
// longest Retry-After asked), also when others took it: they get it again
// under the same collapse id or tag, which replaces it. Else it is sent
// when any device took it; when all failed for good it fails, Dead when
// every device was gone.
func (ch *Channel) Send(ctx context.Context, m *notify.Message) error {
	devs, err := ch.c.DB.Reader().MobileDevices(ctx, m.User.WorkspaceID, m.User.ID)
	if err != nil {
		return err
	}
	base, err := ch.message(m)
	if err != nil {
		return &notify.SendError{Err: err, Permanent: true}
	}
	var outcomes []outcome
	for _, dev := range devs {
		sender := ch.senders[dev.Provider]
		if sender == nil {
			continue
		}
		if err := ch.devices.open(dev); err != nil {
			outcomes = append(outcomes, outcome{dev, &push.Error{Kind: push.Permanent, Err: err}})
			continue
		}
		msg := *base
		msg.Token = dev.Token
		var pe *push.Error
		if err := sender.Send(ctx, &msg); err != nil {
			pe = push.Classify(err)
		}
		outcomes = append(outcomes, outcome{dev, pe})
	}
	if len(outcomes) == 0 {
		return &notify.SendError{Err: errors.New("mobile: no device that a configured push service serves"), Permanent: true}
	}
	return ch.settle(ctx, outcomes)
}

// settle records what the sends did and gives the delivery's result.
func (ch *Channel) settle(ctx context.Context, outcomes []outcome) error {
	var sent []int64
	var res notify.Outcomes
	q := ch.c.DB.Writer()
	for _, o := range outcomes {
		if o.err == nil {
			sent = append(sent, o.dev.ID)
			continue
		}
		what := fmt.Sprintf("%s device %d: %s", o.dev.Platform, o.dev.ID, o.err.Error())
		switch o.err.Kind {
		case push.Temporary:
			res.Temporary = append(res.Temporary, what)
			res.RetryAfter = max(res.RetryAfter, o.err.RetryAfter)
		case push.Permanent:
			res.Permanent = append(res.Permanent, what)
		case push.Dead:
			// A token gone since a time is alive again when registered
			// after it; without a time, only a registration after the one
			// this send used keeps it.
			since := o.err.Since
			if since.IsZero() {
				since = o.dev.RegisteredAt
			}
			removed, err := q.DeleteDeadMobileDevice(ctx, o.dev.ID, since)
			if err != nil {
				return err
			}
			if removed {
				res.Dead = append(res.Dead, what)
				ch.c.Logger.InfoContext(ctx, "mobile device removed", "device", o.dev.ID, "user", o.dev.UserID, "reason", o.err.Reason)
			} else {
				res.Permanent = append(res.Permanent, what+" (registered again since; kept)")
			}
		}
	}
	if res.Sent = len(sent); res.Sent > 0 {
		if err := q.TouchMobileDevices(ctx, sent); err != nil {
			ch.c.Logger.WarnContext(ctx, "record mobile device use", "err", err)
		}
	}
	return res.Err("mobile")
}

// message is what every device of the person is sent.
func (ch *Channel) message(m *notify.Message) (*push.Message, error) {
	n := m.Notification
	expires := notify.PushExpiry(n, ch.c.Now())
	if !expires.After(ch.c.Now()) {
		return nil, fmt.Errorf("mobile: the notification expired at %s before it could be sent", expires.UTC().Format(time.RFC3339))
	}
	link := n.URL
	if link == "" && ch.c.BaseURL != "" {
		link = ch.c.BaseURL + "/notifications"
	}
	id := strconv.FormatInt(n.ID, 10)
	return &push.Message{Title: n.Title, Body: n.Body, URL: link, Type: n.Type, ID: id, High: notify.Urgent(n.Category),
		CollapseID: "roster-" + id, Expires: expires}, nil
}
