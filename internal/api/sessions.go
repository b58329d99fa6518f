package api

import (
	"context"
	"net/http"
	"time"

	"github.com/danielgtaylor/huma/v2"

	"roster/internal/core"
)

// Session is one open session of the caller.
type Session struct {
	ID         int64     `json:"id"`
	Device     string    `json:"device" doc:"Browser and operating system, or the app, as its user agent told; empty when unknown."`
	IP         string    `json:"ip" doc:"The address the session was opened from."`
	CreatedAt  time.Time `json:"created_at" doc:"When the user signed in."`
	LastSeenAt time.Time `json:"last_seen_at" doc:"Last activity, to within a minute or so."`
	Current    bool      `json:"current" doc:"true for the session making this request (\"this device\")."`
}

// SessionList is the caller's open sessions, newest activity first.
type SessionList struct {
	Items []*Session `json:"items" nullable:"false"`
}

type sessionsOutput struct{ Body *SessionList }

type sessionIDInput struct {
	ID int64 `path:"id" minimum:"1"`
}

func (a *API) registerSessions() {
	huma.Register(a.humaAPI, a.op(huma.Operation{
		OperationID: "list-sessions",
		Method:      http.MethodGet,
		Path:        "/me/sessions",
		Summary:     "The caller's sessions",
		Description: "Every open session of the signed-in user, in browsers and apps, with its device, address, " +
			"sign-in time and last activity; current marks the one making the request. API tokens are not sessions " +
			"and are not listed.",
		Tags:     []string{"Sessions"},
		Security: signedIn,
	}), a.listSessions)

	huma.Register(a.humaAPI, a.op(huma.Operation{
		OperationID: "revoke-session",
		Method:      http.MethodDelete,
		Path:        "/me/sessions/{id}",
		Summary:     "Sign out one session",
		Description: "Ends one of the caller's sessions, the current one included; its token stops working at once. " +
			"Sessions of other users do not exist for the caller (404). Audited.",
		Tags:          []string{"Sessions"},
		Security:      signedIn,
		DefaultStatus: http.StatusNoContent,
		Errors:        []int{http.StatusNotFound, http.StatusUnprocessableEntity},
	}), a.revokeSession)

	huma.Register(a.humaAPI, a.op(huma.Operation{
		OperationID: "revoke-other-sessions",
		Method:      http.MethodDelete,
		Path:        "/me/sessions",
		Summary:     "Sign out every other session",
		Description: "Ends every session of the caller except the one making the request. Called with an API token, " +
			"which is no session, it ends all of them. Audited.",
		Tags:          []string{"Sessions"},
		Security:      signedIn,
		DefaultStatus: http.StatusNoContent,
	}), a.revokeOtherSessions)
}

func (a *API) listSessions(ctx context.Context, _ *struct{}) (*sessionsOutput, error) {
	p := principal(ctx)
	list, err := a.deps.Auth.Sessions(ctx, p.User)
	if err != nil {
		return nil, a.fail(ctx, err)
	}
	out := &SessionList{Items: make([]*Session, 0, len(list))}
	for _, s := range list {
		out.Items = append(out.Items, toSession(s, p.Session))
	}
	return &sessionsOutput{Body: out}, nil
}

func toSession(s, current *core.Session) *Session {
	return &Session{
		ID:         s.ID,
		Device:     s.Device,
		IP:         s.IP,
		CreatedAt:  s.CreatedAt.UTC(),
		LastSeenAt: s.LastSeenAt.UTC(),
		Current:    current != nil && current.ID == s.ID,
	}
}

func (a *API) revokeSession(ctx context.Context, in *sessionIDInput) (*struct{}, error) {
	if err := a.deps.Auth.RevokeSession(ctx, principal(ctx).User, in.ID); err != nil {
		return nil, a.fail(ctx, err)
	}
	return nil, nil
}

func (a *API) revokeOtherSessions(ctx context.Context, _ *struct{}) (*struct{}, error) {
	p := principal(ctx)
	var keep int64 // an API token keeps no session
	if p.Session != nil {
		keep = p.Session.ID
	}
	if err := a.deps.Auth.RevokeOtherSessions(ctx, p.User, keep); err != nil {
		return nil, a.fail(ctx, err)
	}
	return nil, nil
}
