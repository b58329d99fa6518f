package api

import (
	"context"
	"net/http"
	"time"

	"github.com/danielgtaylor/huma/v2"

	"roster/internal/auth"
	"roster/internal/core"
	"roster/internal/httpx"
)

// statusSignedIn is the only login status produced today; see
// LoginResult.Status for the one reserved for two-step verification.
const statusSignedIn = "signed_in"

type loginInput struct {
	Body struct {
		Email    string `json:"email" maxLength:"254" example:"ada@example.com"`
		Password string `json:"password" maxLength:"256"`
	}
}

// LoginResult answers POST /auth/login.
type LoginResult struct {
	Status    string         `json:"status" enum:"signed_in,second_factor_required" doc:"signed_in: token and user are set. Reserved for two-step verification, not produced yet: second_factor_required, with a challenge object instead of a token, to be answered by a further request. Clients should treat any status other than signed_in as not signed in."`
	Token     string         `json:"token,omitempty" doc:"Session token; send it as Authorization: Bearer <token>. Shown once."`
	TokenType string         `json:"token_type,omitempty" enum:"Bearer"`
	ExpiresAt *time.Time     `json:"expires_at,omitempty" doc:"When the session ends at the latest; it also ends after a long idle period, on logout, or when the user is deactivated."`
	User      *User          `json:"user,omitempty"`
	Challenge map[string]any `json:"challenge,omitempty" doc:"Reserved for status second_factor_required; never present today."`
}

type loginOutput struct {
	Body *LoginResult
}

type logoutOutput struct {
	SetCookie string `header:"Set-Cookie" doc:"Clears the session cookie when the call was authenticated by it."`
}

type userOutput struct {
	Body *User
}

func (a *API) registerAuth() {
	huma.Register(a.humaAPI, a.op(huma.Operation{
		OperationID: "login",
		Method:      http.MethodPost,
		Path:        "/auth/login",
		Summary:     "Sign in",
		Description: "Checks an email and password and opens an API session. Wrong email, wrong password and " +
			"inactive accounts all give the same 401. Repeated failures give 429 with Retry-After.",
		Tags:   []string{"Authentication"},
		Errors: []int{http.StatusBadRequest, http.StatusUnauthorized, http.StatusUnprocessableEntity},
	}), a.login)

	huma.Register(a.humaAPI, a.op(huma.Operation{
		OperationID:   "logout",
		Method:        http.MethodPost,
		Path:          "/auth/logout",
		Summary:       "Sign out",
		Description:   "Ends the calling session. API tokens are not sessions: revoke them with DELETE /api/v1/tokens/{id}; for them this call does nothing.",
		Tags:          []string{"Authentication"},
		DefaultStatus: http.StatusNoContent,
		Security:      signedIn,
		Errors:        []int{http.StatusForbidden},
	}), a.logout)

	huma.Register(a.humaAPI, a.op(huma.Operation{
		OperationID: "get-me",
		Method:      http.MethodGet,
		Path:        "/me",
		Summary:     "The signed-in user",
		Tags:        []string{"Users"},
		Security:    signedIn,
	}), a.me)
}

func (a *API) login(ctx context.Context, in *loginInput) (*loginOutput, error) {
	st := stateFrom(ctx)
	res, err := a.deps.Auth.Login(ctx, auth.LoginInput{
		Email:    in.Body.Email,
		Password: in.Body.Password,
		IP:       st.ip,
		Device:   httpx.DeviceName(st.userAgent),
		Kind:     core.SessionAPI,
	})
	if err != nil {
		return nil, a.fail(ctx, err)
	}
	u, err := a.render(ctx, res.User, res.User)
	if err != nil {
		return nil, a.fail(ctx, err)
	}
	exp := res.Session.ExpiresAt.UTC()
	return &loginOutput{Body: &LoginResult{
		Status:    statusSignedIn,
		Token:     res.Token,
		TokenType: "Bearer",
		ExpiresAt: &exp,
		User:      u,
	}}, nil
}

func (a *API) logout(ctx context.Context, _ *struct{}) (*logoutOutput, error) {
	st := stateFrom(ctx)
	if err := a.deps.Auth.Logout(ctx, st.principal); err != nil {
		return nil, a.fail(ctx, err)
	}
	out := &logoutOutput{}
	if st.viaCookie {
		c := &http.Cookie{Name: auth.CookieName, Path: "/", MaxAge: -1, HttpOnly: true, SameSite: http.SameSiteLaxMode}
		out.SetCookie = c.String()
	}
	return out, nil
}

func (a *API) me(ctx context.Context, _ *struct{}) (*userOutput, error) {
	p := principal(ctx)
	return a.userOutput(ctx, p.User, p.User)
}
