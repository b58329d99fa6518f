package api

import (
	"context"
	"errors"
	"net/http"
	"time"

	"github.com/danielgtaylor/huma/v2"

	"roster/internal/core"
	"roster/internal/notify/webpush"
)

// PushSubscription is a browser that gets the caller's push notifications.
// Its endpoint and keys are not shown back.
type PushSubscription struct {
	ID         int64      `json:"id"`
	Browser    string     `json:"browser" doc:"The browser's name from its User-Agent at subscription (Chrome, Firefox, Safari, Edge, Opera, Samsung Internet); empty when not recognised."`
	OS         string     `json:"os" doc:"Windows, macOS, Linux, Android, iOS or ChromeOS; empty when not recognised."`
	CreatedAt  time.Time  `json:"created_at"`
	LastUsedAt *time.Time `json:"last_used_at" nullable:"true" doc:"The last notification the push service accepted for it; null for none yet."`
}

func toPushSubscription(s *core.PushSubscription) *PushSubscription {
	return &PushSubscription{ID: s.ID, Browser: s.Browser, OS: s.OS, CreatedAt: s.CreatedAt.UTC(), LastUsedAt: optTime(s.LastUsedAt)}
}

// pushKeys are a subscription's keys as the browser's
// PushSubscription.toJSON() gives them.
type pushKeys struct {
	P256dh string `json:"p256dh" doc:"The browser's P-256 public key (65 bytes, uncompressed), base64url."`
	Auth   string `json:"auth" doc:"The 16-byte authentication secret, base64url."`
}

type subscribePushInput struct {
	UserAgent string `header:"User-Agent"`
	Body      struct {
		Endpoint       string   `json:"endpoint" doc:"The push service URL the browser gave (https, up to 2048 bytes)."`
		ExpirationTime *float64 `json:"expirationTime,omitempty" nullable:"true" doc:"As the browser gives it; not used."`
		Keys           pushKeys `json:"keys"`
	}
}

type pushSubscriptionOutput struct{ Body *PushSubscription }

type pushSubscriptionsOutput struct {
	Body struct {
		Items []*PushSubscription `json:"items" nullable:"false"`
	}
}

type vapidKeyOutput struct {
	Body struct {
		Key string `json:"key" doc:"The server's VAPID public key (RFC 8292): base64url of the uncompressed P-256 point, for pushManager.subscribe's applicationServerKey."`
	}
}

type pushIDInput struct {
	ID int64 `path:"id" minimum:"1"`
}

func (a *API) registerPush() {
	tags := []string{"Notifications"}
	huma.Register(a.humaAPI, a.op(huma.Operation{OperationID: "get-push-key", Method: http.MethodGet, Path: "/push/vapid-public-key",
		Summary: "The server's key for browser push subscriptions", Description: "409 when the server has no browser push set up.",
		Tags: tags, Security: signedIn, Errors: []int{http.StatusConflict}}), a.getPushKey)
	huma.Register(a.humaAPI, a.op(huma.Operation{OperationID: "subscribe-my-browser", Method: http.MethodPost, Path: "/me/push-subscriptions",
		Summary: "Subscribe a browser to my push notifications", DefaultStatus: http.StatusCreated,
		Description: "Send the browser's PushSubscription.toJSON() as it is. The same endpoint again updates its one record (and " +
			"moves it to the caller), so this is also how a page learns its record's id. Up to 20 browsers a person: the 21st " +
			"replaces the least recently used. Made with a browser session, the subscription ends with that session (sign-out, " +
			"revocation, expiry). Bad input is 422 with field errors and changes nothing; 409 when the server has no browser " +
			"push set up.",
		Tags: tags, Security: signedIn, Errors: []int{http.StatusConflict, http.StatusUnprocessableEntity}}), a.subscribePush)
	huma.Register(a.humaAPI, a.op(huma.Operation{OperationID: "find-my-browser", Method: http.MethodPost, Path: "/me/push-subscriptions:find",
		Summary: "Whether a browser's subscription is mine", Description: "Takes `{endpoint}` (in the body, never the URL: " +
			"the endpoint is a secret) and answers the caller's record of it, or 404 when the caller has none: it was " +
			"removed, or belongs to someone who signed in on the browser before. Changes nothing.",
		Tags: tags, Security: signedIn, Errors: []int{http.StatusNotFound}}), a.findPush)
	huma.Register(a.humaAPI, a.op(huma.Operation{OperationID: "list-my-browsers", Method: http.MethodGet, Path: "/me/push-subscriptions",
		Summary: "My browsers subscribed to push notifications, the newest first", Tags: tags, Security: signedIn}), a.listPush)
	huma.Register(a.humaAPI, a.op(huma.Operation{OperationID: "remove-my-browser", Method: http.MethodDelete, Path: "/me/push-subscriptions/{id}",
		Summary: "Stop push notifications to one of my browsers", Description: "Other people's subscriptions do not exist for the caller (404).",
		Tags: tags, Security: signedIn, DefaultStatus: http.StatusNoContent, Errors: []int{http.StatusNotFound}}), a.removePush)
}

// errPushNotConfigured: the operator has not set browser push up.
var errPushNotConfigured = core.Errorf(core.ECONFLICT, "push.not_configured")

func (a *API) getPushKey(ctx context.Context, _ *struct{}) (*vapidKeyOutput, error) {
	if a.deps.PushKey == "" {
		return nil, a.fail(ctx, errPushNotConfigured)
	}
	out := &vapidKeyOutput{}
	out.Body.Key = a.deps.PushKey
	return out, nil
}

func (a *API) subscribePush(ctx context.Context, in *subscribePushInput) (*pushSubscriptionOutput, error) {
	if a.deps.PushKey == "" {
		return nil, a.fail(ctx, errPushNotConfigured)
	}
	p := principal(ctx)
	var session int64
	if p.Session != nil {
		session = p.Session.ID
	}
	s, err := a.deps.Push.Subscribe(ctx, p.User, webpush.SubscribeInput{Endpoint: in.Body.Endpoint,
		P256dh: in.Body.Keys.P256dh, Auth: in.Body.Keys.Auth, UserAgent: in.UserAgent, SessionID: session})
	if err != nil {
		return nil, a.fail(ctx, keysFields(err))
	}
	return &pushSubscriptionOutput{Body: toPushSubscription(s)}, nil
}

// keysFields names the keys' field errors as the body has them: the
// browser's JSON nests them under "keys".
func keysFields(err error) error {
	var e *core.Error
	if !errors.As(err, &e) || e.Code != core.EINVALID {
		return err
	}
	out := *e
	out.Fields = make([]core.FieldError, len(e.Fields))
	for i, f := range e.Fields {
		if f.Field == "p256dh" || f.Field == "auth" {
			f.Field = "keys." + f.Field
		}
		out.Fields[i] = f
	}
	return &out
}

type findPushInput struct {
	Body struct {
		Endpoint string `json:"endpoint" maxLength:"2048"`
	}
}

func (a *API) findPush(ctx context.Context, in *findPushInput) (*pushSubscriptionOutput, error) {
	s, err := a.deps.Push.Find(ctx, principal(ctx).User, in.Body.Endpoint)
	if err != nil {
		return nil, a.fail(ctx, err)
	}
	return &pushSubscriptionOutput{Body: toPushSubscription(s)}, nil
}

func (a *API) listPush(ctx context.Context, _ *struct{}) (*pushSubscriptionsOutput, error) {
	list, err := a.deps.Push.List(ctx, principal(ctx).User)
	if err != nil {
		return nil, a.fail(ctx, err)
	}
	out := &pushSubscriptionsOutput{}
	out.Body.Items = make([]*PushSubscription, 0, len(list))
	for i := range list {
		out.Body.Items = append(out.Body.Items, toPushSubscription(&list[i]))
	}
	return out, nil
}

func (a *API) removePush(ctx context.Context, in *pushIDInput) (*struct{}, error) {
	if err := a.deps.Push.Remove(ctx, principal(ctx).User, in.ID); err != nil {
		return nil, a.fail(ctx, err)
	}
	return nil, nil
}
