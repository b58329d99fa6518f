package api

import (
	"context"
	"net/http"
	"time"

	"github.com/danielgtaylor/huma/v2"

	"roster/internal/account"
	"roster/internal/core"
)

type accessInput struct {
	ID   int64 `path:"id" minimum:"1"`
	Body struct {
		Role   string   `json:"role" enum:"admin,user"`
		Rights []string `json:"rights,omitempty" doc:"Extra permissions for a non-admin: profile-access."`
	}
}

type inviteInput struct {
	Body struct {
		Email  string   `json:"email" maxLength:"254" example:"new.person@example.com"`
		Role   string   `json:"role,omitempty" enum:"admin,user" doc:"Defaults to user."`
		Rights []string `json:"rights,omitempty" doc:"Extra permissions for a non-admin: profile-access."`
	}
}

type inviteOutput struct {
	Body *Invite
}

type inviteList struct {
	Items []*Invite `json:"items" nullable:"false"`
}

type invitesOutput struct {
	Body *inviteList
}

type tokenList struct {
	Items []*APIToken `json:"items" nullable:"false"`
}

type tokensOutput struct {
	Body *tokenList
}

type createTokenInput struct {
	Body struct {
		Name          string `json:"name" maxLength:"50" example:"CRM sync"`
		ExpiresInDays int    `json:"expires_in_days,omitempty" default:"365" minimum:"1" maximum:"1825" doc:"Lifetime in days, 1 to 1825 (five years)."`
	}
}

// CreatedToken answers POST /tokens.
type CreatedToken struct {
	Token  *APIToken `json:"token"`
	Secret string    `json:"secret" doc:"The token itself; send it as Authorization: Bearer <secret>. Shown only in this response."`
}

type createTokenOutput struct {
	Body *CreatedToken
}

func (a *API) registerAdmin() {
	adminErrs := []int{http.StatusForbidden, http.StatusNotFound, http.StatusConflict, http.StatusUnprocessableEntity}
	huma.Register(a.humaAPI, a.op(huma.Operation{
		OperationID: "set-user-access",
		Method:      http.MethodPatch,
		Path:        "/users/{id}/access",
		Summary:     "Change a user's role and rights",
		Description: "Admins only. Demoting the last active admin is refused with 409.",
		Tags:        []string{"Administration"},
		Security:    signedIn,
		Errors:      append([]int{http.StatusBadRequest}, adminErrs...),
	}), a.setAccess)

	huma.Register(a.humaAPI, a.op(huma.Operation{
		OperationID: "deactivate-user",
		Method:      http.MethodPost,
		Path:        "/users/{id}/deactivate",
		Summary:     "Deactivate a user",
		Description: "Admins only. The user can no longer sign in and every session ends; API tokens acting as them are revoked and " +
			"their pending invitations withdrawn, for good: reactivating does not bring them back. " +
			"The last active admin cannot be deactivated (409). Audited.",
		Tags:     []string{"Administration"},
		Security: signedIn,
		Errors:   adminErrs,
	}), a.setState(core.StateInactive))

	huma.Register(a.humaAPI, a.op(huma.Operation{
		OperationID: "reactivate-user",
		Method:      http.MethodPost,
		Path:        "/users/{id}/reactivate",
		Summary:     "Reactivate a user",
		Description: "Admins only.",
		Tags:        []string{"Administration"},
		Security:    signedIn,
		Errors:      adminErrs,
	}), a.setState(core.StateActive))

	huma.Register(a.humaAPI, a.op(huma.Operation{
		OperationID:   "create-invite",
		Method:        http.MethodPost,
		Path:          "/invites",
		Summary:       "Invite someone by email",
		Description:   "Admins only. Mails a single-use link valid for 7 days.",
		Tags:          []string{"Administration"},
		DefaultStatus: http.StatusCreated,
		Security:      signedIn,
		Errors:        []int{http.StatusBadRequest, http.StatusForbidden, http.StatusUnprocessableEntity},
	}), a.invite)

	huma.Register(a.humaAPI, a.op(huma.Operation{
		OperationID: "list-invites",
		Method:      http.MethodGet,
		Path:        "/invites",
		Summary:     "List pending invitations",
		Description: "Admins only. Invitations that can still be accepted: not used, withdrawn or expired, " +
			"and sent by someone who is still an active admin. Newest first.",
		Tags:     []string{"Administration"},
		Security: signedIn,
		Errors:   []int{http.StatusForbidden},
	}), a.listInvites)

	huma.Register(a.humaAPI, a.op(huma.Operation{
		OperationID:   "revoke-invite",
		Method:        http.MethodDelete,
		Path:          "/invites/{id}",
		Summary:       "Withdraw a pending invitation",
		Description:   "Admins only. Its link stops working at once. Invitations of other workspaces, and ones already used, withdrawn or expired, do not exist (404). Audited.",
		Tags:          []string{"Administration"},
		DefaultStatus: http.StatusNoContent,
		Security:      signedIn,
		Errors:        []int{http.StatusForbidden, http.StatusNotFound, http.StatusUnprocessableEntity},
	}), a.revokeInvite)

	huma.Register(a.humaAPI, a.op(huma.Operation{
		OperationID: "list-tokens",
		Method:      http.MethodGet,
		Path:        "/tokens",
		Summary:     "List the workspace's API tokens",
		Description: "Admins only. Secrets are never shown again.",
		Tags:        []string{"API tokens"},
		Security:    signedIn,
		Errors:      []int{http.StatusForbidden},
	}), a.listTokens)

	huma.Register(a.humaAPI, a.op(huma.Operation{
		OperationID: "create-token",
		Method:      http.MethodPost,
		Path:        "/tokens",
		Summary:     "Create an API token",
		Description: "Admins only, and only from a session: an API token cannot create tokens, so a leaked " +
			"token cannot outlive its revocation. The token acts as the admin who created it.",
		Tags:          []string{"API tokens"},
		DefaultStatus: http.StatusCreated,
		Security:      signedIn,
		Errors:        []int{http.StatusBadRequest, http.StatusForbidden, http.StatusUnprocessableEntity},
	}), a.createToken)

	huma.Register(a.humaAPI, a.op(huma.Operation{
		OperationID:   "revoke-token",
		Method:        http.MethodDelete,
		Path:          "/tokens/{id}",
		Summary:       "Revoke an API token",
		Description:   "Admins only. The token stops working at once.",
		Tags:          []string{"API tokens"},
		DefaultStatus: http.StatusNoContent,
		Security:      signedIn,
		Errors:        []int{http.StatusForbidden, http.StatusNotFound},
	}), a.revokeToken)
}

func (a *API) setAccess(ctx context.Context, in *accessInput) (*userOutput, error) {
	p := principal(ctx)
	u, err := a.deps.Accounts.SetAccess(ctx, p.User, in.ID, account.AccessInput{
		Role:   core.Role(in.Body.Role),
		Rights: coreRights(in.Body.Rights),
	})
	if err != nil {
		return nil, a.fail(ctx, err)
	}
	return a.userOutput(ctx, p.User, u)
}

func (a *API) setState(state core.State) func(context.Context, *userIDInput) (*userOutput, error) {
	return func(ctx context.Context, in *userIDInput) (*userOutput, error) {
		p := principal(ctx)
		u, err := a.deps.Accounts.SetState(ctx, p.User, in.ID, state)
		if err != nil {
			return nil, a.fail(ctx, err)
		}
		return a.userOutput(ctx, p.User, u)
	}
}

func (a *API) invite(ctx context.Context, in *inviteInput) (*inviteOutput, error) {
	p := principal(ctx)
	inv, err := a.deps.Accounts.Invite(ctx, p.User, account.InviteInput{
		Email:  in.Body.Email,
		Role:   core.Role(in.Body.Role),
		Rights: coreRights(in.Body.Rights),
	})
	if err != nil {
		return nil, a.fail(ctx, err)
	}
	return &inviteOutput{Body: toInvite(inv)}, nil
}

func (a *API) listInvites(ctx context.Context, _ *struct{}) (*invitesOutput, error) {
	p := principal(ctx)
	invs, err := a.deps.Accounts.OpenInvites(ctx, p.User)
	if err != nil {
		return nil, a.fail(ctx, err)
	}
	out := &inviteList{Items: make([]*Invite, 0, len(invs))}
	for _, inv := range invs {
		out.Items = append(out.Items, toInvite(inv))
	}
	return &invitesOutput{Body: out}, nil
}

func (a *API) revokeInvite(ctx context.Context, in *userIDInput) (*struct{}, error) {
	p := principal(ctx)
	if err := a.deps.Accounts.RevokeInvite(ctx, p.User, in.ID); err != nil {
		return nil, a.fail(ctx, err)
	}
	return nil, nil
}

func (a *API) listTokens(ctx context.Context, _ *struct{}) (*tokensOutput, error) {
	p := principal(ctx)
	ts, err := a.deps.Auth.APITokens(ctx, p.User)
	if err != nil {
		return nil, a.fail(ctx, err)
	}
	out := &tokenList{Items: make([]*APIToken, 0, len(ts))}
	for _, t := range ts {
		out.Items = append(out.Items, toAPIToken(t))
	}
	return &tokensOutput{Body: out}, nil
}

func (a *API) createToken(ctx context.Context, in *createTokenInput) (*createTokenOutput, error) {
	p := principal(ctx)
	if p.Token != nil {
		return nil, a.fail(ctx, core.ErrForbidden)
	}
	ttl := time.Duration(in.Body.ExpiresInDays) * 24 * time.Hour // huma fills the default
	secret, t, err := a.deps.Auth.CreateAPIToken(ctx, p.User, in.Body.Name, ttl)
	if err != nil {
		return nil, a.fail(ctx, err)
	}
	return &createTokenOutput{Body: &CreatedToken{Token: toAPIToken(t), Secret: secret}}, nil
}

func (a *API) revokeToken(ctx context.Context, in *userIDInput) (*struct{}, error) {
	p := principal(ctx)
	if err := a.deps.Auth.RevokeAPIToken(ctx, p.User, in.ID); err != nil {
		return nil, a.fail(ctx, err)
	}
	return nil, nil
}
