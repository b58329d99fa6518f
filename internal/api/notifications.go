package api

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strconv"
	"time"

	"github.com/danielgtaylor/huma/v2"

	"roster/internal/core"
	"roster/internal/notify"
)

// EventType is one entry of the notification catalogue.
type EventType struct {
	Key             string           `json:"key" doc:"The type's key, e.g. call.incoming: a stable public contract."`
	Category        string           `json:"category"`
	Name            string           `json:"name" doc:"In the caller's language."`
	Description     string           `json:"description" doc:"In the caller's language."`
	Mandatory       bool             `json:"mandatory" doc:"Security notices: always delivered, cannot be turned off, and only Roster raises them."`
	DefaultChannels []string         `json:"default_channels" nullable:"false"`
	Data            []EventTypeField `json:"data" nullable:"false" doc:"The fields of the event's data object."`
}

// EventTypeField is one field of an event type's data.
type EventTypeField struct {
	Name     string   `json:"name"`
	Type     string   `json:"type" enum:"string,integer,enum,url"`
	Required bool     `json:"required"`
	Values   []string `json:"values,omitempty" doc:"For enum: the allowed values."`
}

type eventTypesOutput struct {
	Body struct {
		Items []EventType `json:"items" nullable:"false"`
	}
}

// NotificationSettings is a person's notification settings.
type NotificationSettings struct {
	Receive     bool                       `json:"receive" doc:"The master switch. Off: nothing but mandatory types is delivered on any channel; the in-app centre still records everything but shows no pop-ups."`
	EmailTiming string                     `json:"email_timing" enum:"instant,daily" doc:"Email at the time of the event, or once a day at digest_time."`
	DigestTime  string                     `json:"digest_time" doc:"HH:MM in the person's time zone."`
	QuietHours  []QuietRange               `json:"quiet_hours" nullable:"false" doc:"Quiet hours in the person's time zone: deliveries other than the in-app centre and mandatory types wait until they end."`
	PausedUntil *time.Time                 `json:"paused_until,omitempty" doc:"Those deliveries wait until then."`
	Channels    []ChannelState             `json:"channels" nullable:"false"`
	Types       map[string]map[string]bool `json:"types" doc:"Event type key → channel → on, as it applies (the person's choice, else the workspace's default)."`
	Chosen      map[string]map[string]bool `json:"chosen" doc:"The cells the person set themselves; the others follow the workspace's default."`
}

// QuietRange is a span of quiet hours starting on a weekday at from and
// ending at to, the next day when to is not after from.
type QuietRange struct {
	Day  int    `json:"day" minimum:"0" maximum:"6" doc:"0 Sunday … 6 Saturday, the day the span starts."`
	From string `json:"from" doc:"HH:MM"`
	To   string `json:"to" doc:"HH:MM; not after from: the next day."`
}

// ChannelState says whether a channel can reach the person.
type ChannelState struct {
	Channel string `json:"channel" enum:"in_app,email,mobile,browser,telegram"`
	Usable  bool   `json:"usable"`
	Reason  string `json:"reason,omitempty" doc:"Why not: not_configured, no_device, no_subscription or not_connected."`
	Hint    string `json:"hint,omitempty" doc:"What to do, in the caller's language."`
}

type settingsOutput struct{ Body *NotificationSettings }

type settingsInput struct {
	Body struct {
		Receive     *bool                      `json:"receive,omitempty"`
		EmailTiming *string                    `json:"email_timing,omitempty"`
		DigestTime  *string                    `json:"digest_time,omitempty"`
		QuietHours  *[]QuietRange              `json:"quiet_hours,omitempty" doc:"Replaces the quiet hours; [] for none."`
		PausedUntil *string                    `json:"paused_until,omitempty" doc:"RFC 3339 instant to pause until (within a year); \"\" ends a pause."`
		Types       map[string]map[string]bool `json:"types,omitempty" doc:"Cells to set; cells not named stay as they are."`
	}
}

type defaultsOutput struct {
	Body struct {
		Types map[string]map[string]bool `json:"types"`
	}
}

type defaultsInput struct {
	Body struct {
		Types map[string]map[string]bool `json:"types"`
	}
}

// EventIn is one event posted by an integration.
type EventIn struct {
	Type       string         `json:"type" doc:"An event type key from GET /api/v1/event-types (security.* types are Roster's own and refused)."`
	Recipients any            `json:"recipients" doc:"An array of user ids of the workspace, or \"all\" for every active user."`
	Data       map[string]any `json:"data" doc:"The type's fields; every type requires title and accepts url (http or https)."`
	OccurredAt *time.Time     `json:"occurred_at,omitempty"`
	DedupeKey  string         `json:"dedupe_key,omitempty" doc:"At most one event per workspace and key, ever: a repeat creates nothing and answers the first event's id with duplicate true."`
}

// EventAccepted is an event taken in.
type EventAccepted struct {
	ID        int64 `json:"id"`
	Duplicate bool  `json:"duplicate"`
}

type eventInput struct {
	IdempotencyKey string `header:"Idempotency-Key" doc:"The same key with the same body within 24 hours returns the first answer and creates nothing; with another body 422; while the first is running 409."`
	RawBody        []byte
	Body           EventIn
}

type batchInput struct {
	IdempotencyKey string `header:"Idempotency-Key" doc:"As for POST /api/v1/events."`
	RawBody        []byte
	Body           struct {
		Events []EventIn `json:"events" maxItems:"500"`
	}
}

type eventOutput struct {
	Status int
	Body   json.RawMessage
}

// Notification is one item of the in-app centre.
type Notification struct {
	ID        int64      `json:"id"`
	Type      string     `json:"type"`
	Category  string     `json:"category"`
	Title     string     `json:"title"`
	Body      string     `json:"body"`
	URL       string     `json:"url,omitempty"`
	Popup     bool       `json:"popup" doc:"An open page shows it as a pop-up (browser channel on and notifications on)."`
	CreatedAt time.Time  `json:"created_at"`
	ReadAt    *time.Time `json:"read_at" nullable:"true"`
}

func toNotification(n *core.Notification) *Notification {
	return &Notification{ID: n.ID, Type: n.Type, Category: n.Category, Title: n.Title, Body: n.Body, URL: n.URL, Popup: n.Popup,
		CreatedAt: n.CreatedAt.UTC(), ReadAt: optTime(n.ReadAt)}
}

type listNotificationsInput struct {
	Cursor   string `query:"cursor" doc:"From next_cursor of the previous page."`
	Limit    int    `query:"limit" default:"20" minimum:"1" maximum:"100"`
	Category string `query:"category" enum:"calls,email,chats,leads,messages,tasks,system,security"`
}

type notificationPage struct {
	Body struct {
		Items      []*Notification `json:"items" nullable:"false"`
		NextCursor string          `json:"next_cursor,omitempty" doc:"Absent on the last page."`
		Unread     int64           `json:"unread"`
	}
}

type unreadOutput struct {
	Body struct {
		Unread int64 `json:"unread"`
	}
}

type notificationIDInput struct {
	ID int64 `path:"id" minimum:"1"`
}

// Delivery is one notification to one person on one channel.
type Delivery struct {
	ID        int64     `json:"id"`
	EventID   int64     `json:"event_id"`
	Channel   string    `json:"channel"`
	Status    string    `json:"status" enum:"queued,sent,failed,skipped"`
	Reason    string    `json:"reason,omitempty" doc:"For skipped: preference, master_off, channel_unavailable, read (read in the centre before it went), digest (the person gets a daily digest) or notice (a security notice, mailed by the notice mailer); for queued: quiet (held by the person's quiet hours or pause)."`
	Attempts  int       `json:"attempts"`
	LastError string    `json:"last_error,omitempty"`
	CreatedAt time.Time `json:"created_at"`
	UpdatedAt time.Time `json:"updated_at"`
}

type deliveriesInput struct {
	ID     int64  `path:"id" minimum:"1"`
	Cursor string `query:"cursor"`
	Limit  int    `query:"limit" default:"50" minimum:"1" maximum:"100"`
}

type deliveriesOutput struct {
	Body struct {
		Items      []*Delivery `json:"items" nullable:"false"`
		NextCursor string      `json:"next_cursor,omitempty"`
	}
}

func (a *API) registerNotifications() {
	tags := []string{"Notifications"}
	huma.Register(a.humaAPI, a.op(huma.Operation{OperationID: "list-event-types", Method: http.MethodGet, Path: "/event-types",
		Summary: "List the notification event types", Tags: tags, Security: signedIn}), a.eventTypes)
	huma.Register(a.humaAPI, a.op(huma.Operation{OperationID: "get-my-notification-settings", Method: http.MethodGet,
		Path: "/me/notification-settings", Summary: "Get my notification settings", Tags: tags, Security: signedIn}), a.getSettings)
	huma.Register(a.humaAPI, a.op(huma.Operation{OperationID: "set-my-notification-settings", Method: http.MethodPut,
		Path: "/me/notification-settings", Summary: "Change my notification settings",
		Description: "Applies at once. Fields left out stay as they are. An unknown type or channel, or turning off a mandatory type " +
			"or the in-app centre, is 422 with field errors and changes nothing.",
		Tags: tags, Security: signedIn, Errors: []int{http.StatusUnprocessableEntity}}), a.putSettings)
	huma.Register(a.humaAPI, a.op(huma.Operation{OperationID: "get-notification-defaults", Method: http.MethodGet,
		Path: "/workspace/notification-defaults", Summary: "Get the workspace's default notification matrix (admins)",
		Tags: tags, Security: signedIn}), a.getDefaults)
	huma.Register(a.humaAPI, a.op(huma.Operation{OperationID: "set-notification-defaults", Method: http.MethodPut,
		Path: "/workspace/notification-defaults", Summary: "Change the workspace's default notification matrix (admins)",
		Description: "People who never set a cell follow the default's changes at once.",
		Tags:        tags, Security: signedIn, Errors: []int{http.StatusUnprocessableEntity}}), a.putDefaults)
	huma.Register(a.humaAPI, a.op(huma.Operation{OperationID: "post-event", Method: http.MethodPost, Path: "/events",
		Summary: "Post an event to notify people about", DefaultStatus: http.StatusAccepted,
		Description: "With an API token of the workspace (a session gets 403). The event is stored and its fan-out queued in " +
			"one transaction; people get it by their settings. Bad input is 422 with field errors and creates nothing.",
		Tags: tags, Security: signedIn, Errors: []int{http.StatusForbidden, http.StatusConflict, http.StatusUnprocessableEntity}}), a.postEvent)
	huma.Register(a.humaAPI, a.op(huma.Operation{OperationID: "post-events-batch", Method: http.MethodPost, Path: "/events:batch",
		Summary: "Post up to 500 events, all or nothing", DefaultStatus: http.StatusAccepted,
		Description: "One invalid event stores none; field errors name it as events[i]....",
		Tags:        tags, Security: signedIn, Errors: []int{http.StatusConflict, http.StatusUnprocessableEntity}}), a.postBatch)
	huma.Register(a.humaAPI, a.op(huma.Operation{OperationID: "list-my-notifications", Method: http.MethodGet, Path: "/me/notifications",
		Summary: "List my notifications, newest first", Description: "Keyset pages: new notifications never shift a page.",
		Tags: tags, Security: signedIn, Errors: []int{http.StatusUnprocessableEntity}}), a.listNotifications)
	huma.Register(a.humaAPI, a.op(huma.Operation{OperationID: "get-my-unread-count", Method: http.MethodGet,
		Path: "/me/notifications/unread-count", Summary: "My exact unread count", Tags: tags, Security: signedIn}), a.unreadCount)
	huma.Register(a.humaAPI, a.op(huma.Operation{OperationID: "read-notification", Method: http.MethodPost,
		Path: "/me/notifications/{id}/read", Summary: "Mark a notification read", Tags: tags, Security: signedIn,
		Errors: []int{http.StatusNotFound}}), func(ctx context.Context, in *notificationIDInput) (*unreadOutput, error) {
		return a.setRead(ctx, in.ID, true)
	})
	huma.Register(a.humaAPI, a.op(huma.Operation{OperationID: "unread-notification", Method: http.MethodPost,
		Path: "/me/notifications/{id}/unread", Summary: "Mark a notification unread", Tags: tags, Security: signedIn,
		Errors: []int{http.StatusNotFound}}), func(ctx context.Context, in *notificationIDInput) (*unreadOutput, error) {
		return a.setRead(ctx, in.ID, false)
	})
	huma.Register(a.humaAPI, a.op(huma.Operation{OperationID: "read-all-notifications", Method: http.MethodPost,
		Path: "/me/notifications/read-all", Summary: "Mark all my notifications read", Tags: tags, Security: signedIn}), a.readAll)
	huma.Register(a.humaAPI, a.op(huma.Operation{OperationID: "list-user-deliveries", Method: http.MethodGet,
		Path: "/users/{id}/deliveries", Summary: "A user's deliveries per channel (admins)",
		Tags: tags, Security: signedIn, Errors: []int{http.StatusNotFound}}), a.listDeliveries)
	huma.Register(a.humaAPI, a.op(huma.Operation{OperationID: "list-deliveries", Method: http.MethodGet,
		Path: "/deliveries", Summary: "The workspace's delivery log, by person, channel and status (admins)",
		Tags: tags, Security: signedIn, Errors: []int{http.StatusNotFound, http.StatusUnprocessableEntity}}), a.deliveryLog)
	huma.Register(a.humaAPI, a.op(huma.Operation{OperationID: "retry-delivery", Method: http.MethodPost,
		Path: "/deliveries/{id}/retry", Summary: "Send a failed delivery again (admins)",
		Tags: tags, Security: signedIn, Errors: []int{http.StatusNotFound, http.StatusConflict}}), a.retryDelivery)
	huma.Register(a.humaAPI, a.op(huma.Operation{OperationID: "list-notification-deliveries", Method: http.MethodGet,
		Path: "/me/notifications/{id}/deliveries", Summary: "Where one of my notifications went, and why not",
		Tags: tags, Security: signedIn, Errors: []int{http.StatusNotFound}}), a.notificationDeliveries)
	a.registerStream()
}

// LoggedDelivery is a delivery in the workspace's log.
type LoggedDelivery struct {
	Delivery
	UserID   int64  `json:"user_id"`
	UserName string `json:"user_name"`
	Type     string `json:"type,omitempty" doc:"The notification's type; absent once it was pruned."`
	Title    string `json:"title,omitempty" doc:"The notification's title in the person's language."`
}

type deliveryLogInput struct {
	UserID  int64  `query:"user_id" minimum:"0"`
	Channel string `query:"channel" doc:"email, mobile, browser or telegram"`
	Status  string `query:"status" doc:"queued, sent, failed or skipped"`
	Cursor  string `query:"cursor"`
	Limit   int    `query:"limit" default:"50" minimum:"1" maximum:"100"`
}

type deliveryLogOutput struct {
	Body struct {
		Items      []*LoggedDelivery `json:"items" nullable:"false"`
		NextCursor string            `json:"next_cursor,omitempty"`
	}
}

func deliveryOut(d *core.Delivery) Delivery {
	return Delivery{ID: d.ID, EventID: d.EventID, Channel: d.Channel, Status: d.Status, Reason: d.Reason, Attempts: d.Attempts,
		LastError: d.LastError, CreatedAt: d.CreatedAt.UTC(), UpdatedAt: d.UpdatedAt.UTC()}
}

func (a *API) deliveryLog(ctx context.Context, in *deliveryLogInput) (*deliveryLogOutput, error) {
	before, err := cursorOf(in.Cursor)
	if err != nil {
		return nil, a.fail(ctx, err)
	}
	ds, err := a.deps.Notify.DeliveryLog(ctx, principal(ctx).User,
		notify.DeliveryFilter{UserID: in.UserID, Channel: in.Channel, Status: in.Status, Before: before}, in.Limit+1)
	if err != nil {
		return nil, a.fail(ctx, err)
	}
	out := &deliveryLogOutput{}
	out.Body.Items = []*LoggedDelivery{}
	if len(ds) > in.Limit {
		ds = ds[:in.Limit]
		out.Body.NextCursor = strconv.FormatInt(ds[len(ds)-1].ID, 10)
	}
	for _, d := range ds {
		out.Body.Items = append(out.Body.Items, &LoggedDelivery{Delivery: deliveryOut(&d.Delivery), UserID: d.UserID, UserName: d.UserName,
			Type: d.Type, Title: d.Title})
	}
	return out, nil
}

type deliveryIDInput struct {
	ID int64 `path:"id" minimum:"1"`
}

type deliveryOutput struct{ Body Delivery }

func (a *API) retryDelivery(ctx context.Context, in *deliveryIDInput) (*deliveryOutput, error) {
	d, err := a.deps.Notify.RetryDelivery(ctx, principal(ctx).User, in.ID)
	if err != nil {
		return nil, a.fail(ctx, err)
	}
	return &deliveryOutput{Body: deliveryOut(d)}, nil
}

type notificationDeliveriesOutput struct {
	Body struct {
		Items []Delivery `json:"items" nullable:"false"`
	}
}

func (a *API) notificationDeliveries(ctx context.Context, in *notificationIDInput) (*notificationDeliveriesOutput, error) {
	ds, err := a.deps.Notify.NotificationDeliveries(ctx, principal(ctx).User, in.ID)
	if err != nil {
		return nil, a.fail(ctx, err)
	}
	out := &notificationDeliveriesOutput{}
	out.Body.Items = []Delivery{}
	for _, d := range ds {
		out.Body.Items = append(out.Body.Items, deliveryOut(d))
	}
	return out, nil
}

func (a *API) eventTypes(ctx context.Context, _ *struct{}) (*eventTypesOutput, error) {
	loc := a.localizer(ctx)
	out := &eventTypesOutput{}
	out.Body.Items = make([]EventType, 0, len(notify.Types()))
	for _, t := range notify.Types() {
		et := EventType{Key: t.Key, Category: string(t.Category), Name: loc.T("notify.type." + t.Key + ".name"),
			Description: loc.T("notify.type." + t.Key + ".description"), Mandatory: t.Mandatory, DefaultChannels: []string{}}
		for _, ch := range notify.Channels {
			if t.DefaultOn(ch) {
				et.DefaultChannels = append(et.DefaultChannels, string(ch))
			}
		}
		for _, f := range t.AllFields() {
			et.Data = append(et.Data, EventTypeField{Name: f.Name, Type: string(f.Kind), Required: f.Required, Values: f.Values})
		}
		out.Body.Items = append(out.Body.Items, et)
	}
	return out, nil
}

func matrixOut(m notify.Matrix) map[string]map[string]bool {
	out := make(map[string]map[string]bool, len(m))
	for k, row := range m {
		r := make(map[string]bool, len(row))
		for ch, on := range row {
			r[string(ch)] = on
		}
		out[k] = r
	}
	return out
}

func (a *API) settingsBody(ctx context.Context, s *notify.Settings) (*settingsOutput, error) {
	p := principal(ctx)
	states, err := a.deps.Notify.ChannelStates(ctx, p.User)
	if err != nil {
		return nil, a.fail(ctx, err)
	}
	loc := a.localizer(ctx)
	body := &NotificationSettings{Receive: s.Receive, EmailTiming: s.EmailTiming, DigestTime: s.DigestTime,
		QuietHours: []QuietRange{}, Types: matrixOut(s.Cells), Chosen: matrixOut(s.Chosen)}
	for _, r := range s.Quiet {
		body.QuietHours = append(body.QuietHours, QuietRange(r))
	}
	if !s.PausedUntil.IsZero() {
		body.PausedUntil = &s.PausedUntil
	}
	for _, st := range states {
		cs := ChannelState{Channel: string(st.Channel), Usable: st.Usable, Reason: st.Reason}
		if st.Reason != "" {
			cs.Hint = loc.T("notify.unusable." + st.Reason)
		}
		body.Channels = append(body.Channels, cs)
	}
	return &settingsOutput{Body: body}, nil
}

func (a *API) getSettings(ctx context.Context, _ *struct{}) (*settingsOutput, error) {
	s, err := a.deps.Notify.Settings(ctx, principal(ctx).User)
	if err != nil {
		return nil, a.fail(ctx, err)
	}
	return a.settingsBody(ctx, s)
}

func (a *API) putSettings(ctx context.Context, in *settingsInput) (*settingsOutput, error) {
	change := notify.SettingsInput{Receive: in.Body.Receive, EmailTiming: in.Body.EmailTiming, DigestTime: in.Body.DigestTime,
		Cells: in.Body.Types}
	if in.Body.QuietHours != nil {
		quiet := make([]core.QuietRange, 0, len(*in.Body.QuietHours))
		for _, r := range *in.Body.QuietHours {
			quiet = append(quiet, core.QuietRange(r))
		}
		change.Quiet = &quiet
	}
	if in.Body.PausedUntil != nil {
		var until time.Time
		if *in.Body.PausedUntil != "" {
			var err error
			if until, err = time.Parse(time.RFC3339, *in.Body.PausedUntil); err != nil {
				var v core.Invalid
				v.Add("paused_until", "errors.notify.paused_until", nil)
				return nil, a.fail(ctx, v.Err())
			}
		}
		change.PausedUntil = &until
	}
	s, err := a.deps.Notify.SaveSettings(ctx, principal(ctx).User, change)
	if err != nil {
		return nil, a.fail(ctx, err)
	}
	return a.settingsBody(ctx, s)
}

func (a *API) getDefaults(ctx context.Context, _ *struct{}) (*defaultsOutput, error) {
	m, err := a.deps.Notify.WorkspaceDefaults(ctx, principal(ctx).User)
	if err != nil {
		return nil, a.fail(ctx, err)
	}
	out := &defaultsOutput{}
	out.Body.Types = matrixOut(m)
	return out, nil
}

func (a *API) putDefaults(ctx context.Context, in *defaultsInput) (*defaultsOutput, error) {
	m, err := a.deps.Notify.SaveWorkspaceDefaults(ctx, principal(ctx).User, in.Body.Types, stateFrom(ctx).ip)
	if err != nil {
		return nil, a.fail(ctx, err)
	}
	out := &defaultsOutput{}
	out.Body.Types = matrixOut(m)
	return out, nil
}

// eventInputs turns posted events into the domain's, collecting the
// shape errors of recipients.
func eventInputs(events []EventIn) ([]notify.EventInput, error) {
	var v core.Invalid
	out := make([]notify.EventInput, len(events))
	for i, e := range events {
		prefix := ""
		if len(events) > 1 {
			prefix = fmt.Sprintf("events[%d].", i)
		}
		in := notify.EventInput{Type: e.Type, Data: e.Data, DedupeKey: e.DedupeKey}
		if in.Data == nil {
			in.Data = map[string]any{}
		}
		if e.OccurredAt != nil {
			in.OccurredAt = *e.OccurredAt
		}
		switch r := e.Recipients.(type) {
		case string:
			if r != "all" {
				v.Add(prefix+"recipients", "errors.notify.recipients", nil)
			}
			in.AllUsers = true
		case []any:
			for j, x := range r {
				f, ok := x.(float64)
				if !ok || f < 1 || f != float64(int64(f)) {
					v.Add(fmt.Sprintf("%srecipients[%d]", prefix, j), "errors.notify.unknown_recipient", map[string]any{"ID": x})
					continue
				}
				in.Recipients = append(in.Recipients, int64(f))
			}
			if len(r) == 0 {
				v.Add(prefix+"recipients", "errors.notify.recipients", nil)
			}
		default:
			v.Add(prefix+"recipients", "errors.notify.recipients", nil)
		}
		out[i] = in
	}
	return out, v.Err()
}

// errTokenOnly refuses intake from a session: events come from
// integrations, which hold API tokens (made by admins), not from people's
// sign-ins, so a user cannot notify the whole workspace from their session.
var errTokenOnly = core.Errorf(core.EFORBIDDEN, "errors.notify.token_only")

// intake runs the intake of events once per Idempotency-Key.
func (a *API) intake(ctx context.Context, key string, raw []byte, events []EventIn, single bool) (*eventOutput, error) {
	p := principal(ctx)
	if p.Token == nil {
		return nil, a.fail(ctx, errTokenOnly)
	}
	ins, err := eventInputs(events)
	if err != nil {
		return nil, a.fail(ctx, err)
	}
	answer := func(acc []notify.Accepted) (notify.Answer, error) {
		var body any
		if single {
			body = EventAccepted{ID: acc[0].ID, Duplicate: acc[0].Duplicate}
		} else {
			items := make([]EventAccepted, len(acc))
			for i, x := range acc {
				items[i] = EventAccepted{ID: x.ID, Duplicate: x.Duplicate}
			}
			body = map[string]any{"items": items}
		}
		buf, err := json.Marshal(body)
		return notify.Answer{Status: http.StatusAccepted, Body: buf}, err
	}
	var ans notify.Answer
	if key == "" {
		var acc []notify.Accepted
		if acc, err = a.deps.Notify.Intake(ctx, p.User, ins); err == nil {
			ans, err = answer(acc)
		}
	} else {
		ans, err = a.deps.Notify.IntakeOnce(ctx, p.User, ins, key, bytes.TrimSpace(raw), answer)
	}
	if err != nil {
		return nil, a.fail(ctx, err)
	}
	return &eventOutput{Status: ans.Status, Body: ans.Body}, nil
}

func (a *API) postEvent(ctx context.Context, in *eventInput) (*eventOutput, error) {
	return a.intake(ctx, in.IdempotencyKey, in.RawBody, []EventIn{in.Body}, true)
}

func (a *API) postBatch(ctx context.Context, in *batchInput) (*eventOutput, error) {
	return a.intake(ctx, in.IdempotencyKey, in.RawBody, in.Body.Events, false)
}

func cursorOf(s string) (int64, error) {
	if s == "" {
		return 0, nil
	}
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil || n < 1 {
		var v core.Invalid
		v.Add("cursor", "errors.notify.cursor", nil)
		return 0, v.Err()
	}
	return n, nil
}

func (a *API) listNotifications(ctx context.Context, in *listNotificationsInput) (*notificationPage, error) {
	before, err := cursorOf(in.Cursor)
	if err != nil {
		return nil, a.fail(ctx, err)
	}
	page, err := a.deps.Notify.List(ctx, principal(ctx).User, before, in.Category, in.Limit)
	if err != nil {
		return nil, a.fail(ctx, err)
	}
	out := &notificationPage{}
	out.Body.Items = make([]*Notification, 0, len(page.Items))
	for _, n := range page.Items {
		out.Body.Items = append(out.Body.Items, toNotification(n))
	}
	if page.Next > 0 {
		out.Body.NextCursor = strconv.FormatInt(page.Next, 10)
	}
	out.Body.Unread = page.Unread
	return out, nil
}

func (a *API) unreadCount(ctx context.Context, _ *struct{}) (*unreadOutput, error) {
	n, err := a.deps.Notify.UnreadCount(ctx, principal(ctx).User)
	if err != nil {
		return nil, a.fail(ctx, err)
	}
	out := &unreadOutput{}
	out.Body.Unread = n
	return out, nil
}

func (a *API) setRead(ctx context.Context, id int64, read bool) (*unreadOutput, error) {
	n, err := a.deps.Notify.SetRead(ctx, principal(ctx).User, id, read)
	if err != nil {
		return nil, a.fail(ctx, err)
	}
	out := &unreadOutput{}
	out.Body.Unread = n
	return out, nil
}

func (a *API) readAll(ctx context.Context, _ *struct{}) (*unreadOutput, error) {
	if err := a.deps.Notify.ReadAll(ctx, principal(ctx).User); err != nil {
		return nil, a.fail(ctx, err)
	}
	return a.unreadCount(ctx, nil)
}

func (a *API) listDeliveries(ctx context.Context, in *deliveriesInput) (*deliveriesOutput, error) {
	before, err := cursorOf(in.Cursor)
	if err != nil {
		return nil, a.fail(ctx, err)
	}
	ds, err := a.deps.Notify.Deliveries(ctx, principal(ctx).User, in.ID, before, in.Limit+1)
	if err != nil {
		return nil, a.fail(ctx, err)
	}
	out := &deliveriesOutput{}
	out.Body.Items = []*Delivery{}
	if len(ds) > in.Limit {
		ds = ds[:in.Limit]
		out.Body.NextCursor = strconv.FormatInt(ds[len(ds)-1].ID, 10)
	}
	for _, d := range ds {
		dd := deliveryOut(d)
		out.Body.Items = append(out.Body.Items, &dd)
	}
	return out, nil
}
