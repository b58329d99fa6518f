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

// Login statuses.
const (
	statusSignedIn     = "signed_in"
	statusSecondFactor = "second_factor_required"
	loginVerifyRoute   = "POST " + Prefix + "/auth/login/verify"
)

type loginInput struct {
	Body struct {
		Email    string `json:"email" maxLength:"254" example:"ada@example.com"`
		Password string `json:"password" maxLength:"256"`
	}
}

// LoginResult answers POST /auth/login and POST /auth/login/verify.
type LoginResult struct {
	Status            string     `json:"status" enum:"signed_in,second_factor_required" doc:"signed_in: token and user are set. second_factor_required: the password was right but the user has two-step verification on; no token yet: send a code with challenge_id to POST /api/v1/auth/login/verify. Clients should treat any status other than signed_in as not signed in."`
	TwoFactorRequired bool       `json:"two_factor_required" doc:"true exactly when status is second_factor_required."`
	Token             string     `json:"token,omitempty" doc:"Session token; send it as Authorization: Bearer <token>. Shown once."`
	TokenType         string     `json:"token_type,omitempty" enum:"Bearer"`
	ExpiresAt         *time.Time `json:"expires_at,omitempty" doc:"signed_in: when the session ends at the latest; it also ends after a long idle period, on logout, or when the user is deactivated. second_factor_required: when the challenge expires (10 minutes)."`
	User              *User      `json:"user,omitempty" doc:"The signed-in user; absent while a second step is required."`
	ChallengeID       string     `json:"challenge_id,omitempty" doc:"With second_factor_required: identifies this sign-in in POST /api/v1/auth/login/verify and /auth/login/resend. Treat it as a secret."`
	Methods           []string   `json:"methods,omitempty" doc:"With second_factor_required: the kinds of code accepted: totp (authenticator app), email (a code just emailed), backup_code."`
	EmailCodeSent     bool       `json:"email_code_sent,omitempty" doc:"With second_factor_required: true when a code was emailed to the user."`
	SetupRequired     bool       `json:"two_factor_setup_required,omitempty" doc:"With signed_in: the workspace requires two-step verification and the user has it off. Until it is turned on in the web app, the calls marked as open to such users are the only ones that answer; the others give 403 with the problem type /api/v1/problems/two-factor-required."`
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
			"inactive accounts all give the same 401. Repeated failures give 429 with Retry-After.\n\n" +
			"When the user has two-step verification on, the answer is still 200 but with status " +
			"second_factor_required, two_factor_required true, a challenge_id and the accepted methods, and no token: " +
			"finish with " + loginVerifyRoute + ". With emailed codes on, a code is sent now.\n\n" +
			"A right password from outside the workspace's IP allowlist gives 403 with the problem type " + ProblemIPNotAllowed +
			", and neither a token nor a challenge.",
		Tags:   []string{"Authentication"},
		Errors: []int{http.StatusBadRequest, http.StatusUnauthorized, http.StatusForbidden, http.StatusUnprocessableEntity},
	}), a.login)

	huma.Register(a.humaAPI, a.op(huma.Operation{
		OperationID: "login-verify",
		Method:      http.MethodPost,
		Path:        "/auth/login/verify",
		Summary:     "Finish signing in with a second-step code",
		Description: "Completes a sign-in that answered second_factor_required: code is a current code of the " +
			"authenticator app, the code emailed for this sign-in, or an unused backup code (each works once). " +
			"The answer is that of a plain sign-in, with the session token. A wrong code gives 422 (field code) and " +
			"counts like a wrong password: repeated failures give 429 with Retry-After. An emailed code allows 5 tries. " +
			"An expired, finished or unknown challenge gives 404: sign in again. From outside the workspace's IP allowlist " +
			"the answer is 403 with the problem type " + ProblemIPNotAllowed + " and no token.",
		Tags:   []string{"Authentication"},
		Errors: []int{http.StatusBadRequest, http.StatusForbidden, http.StatusNotFound, http.StatusUnprocessableEntity},
	}), a.loginVerify)

	huma.Register(a.humaAPI, a.op(huma.Operation{
		OperationID: "login-resend",
		Method:      http.MethodPost,
		Path:        "/auth/login/resend",
		Summary:     "Email a new sign-in code",
		Description: "Emails a new code for a sign-in that answered second_factor_required, when the user has " +
			"emailed codes on (409 otherwise). At most once a minute: sooner gives 429 with Retry-After. " +
			"The new code replaces the previous one and has 5 tries of its own.",
		Tags:          []string{"Authentication"},
		DefaultStatus: http.StatusAccepted,
		Errors:        []int{http.StatusBadRequest, http.StatusNotFound, http.StatusConflict, http.StatusUnprocessableEntity},
	}), a.loginResend)

	huma.Register(a.humaAPI, a.op(huma.Operation{
		OperationID:   "logout",
		Method:        http.MethodPost,
		Path:          "/auth/logout",
		Summary:       "Sign out",
		Description:   "Ends the calling session. API tokens are not sessions: revoke them with DELETE /api/v1/tokens/{id}; for them this call does nothing." + twoFactorExemptDoc,
		Tags:          []string{"Authentication"},
		DefaultStatus: http.StatusNoContent,
		Security:      signedIn,
		Errors:        []int{http.StatusForbidden},
		Metadata:      map[string]any{metaOpenWithoutTwoFactor: true},
	}), a.logout)

	huma.Register(a.humaAPI, a.op(huma.Operation{
		OperationID: "get-me",
		Method:      http.MethodGet,
		Path:        "/me",
		Summary:     "The signed-in user",
		Description: "The caller." + twoFactorExemptDoc,
		Tags:        []string{"Users"},
		Security:    signedIn,
		Metadata:    map[string]any{metaOpenWithoutTwoFactor: true},
	}), a.me)
}

func (a *API) login(ctx context.Context, in *loginInput) (*loginOutput, error) {
	st := stateFrom(ctx)
	res, err := a.deps.Security.SignIn(ctx, auth.LoginInput{
		Email:    in.Body.Email,
		Password: in.Body.Password,
		IP:       st.ip,
		Device:   httpx.DeviceName(st.userAgent),
		Kind:     core.SessionAPI,
	})
	if err != nil {
		return nil, a.fail(ctx, err)
	}
	if ch := res.Challenge; ch != nil {
		exp := ch.ExpiresAt.UTC()
		methods := make([]string, 0, len(ch.Methods))
		for _, m := range ch.Methods {
			methods = append(methods, string(m))
		}
		return &loginOutput{Body: &LoginResult{
			Status:            statusSecondFactor,
			TwoFactorRequired: true,
			ExpiresAt:         &exp,
			ChallengeID:       ch.Token,
			Methods:           methods,
			EmailCodeSent:     ch.EmailSent,
		}}, nil
	}
	return a.signedIn(ctx, res.LoginResult)
}

// twoFactorExemptDoc notes the operations open while mandatory two-step
// verification waits for the caller.
const twoFactorExemptDoc = " Open to users who must still turn on two-step verification (see " + ProblemTwoFactorRequired + ")."

// signedIn answers a finished sign-in with its token.
func (a *API) signedIn(ctx context.Context, res *auth.LoginResult) (*loginOutput, error) {
	u, err := a.render(ctx, res.User, res.User)
	if err != nil {
		return nil, a.fail(ctx, err)
	}
	exp := res.Session.ExpiresAt.UTC()
	return &loginOutput{Body: &LoginResult{
		Status:        statusSignedIn,
		Token:         res.Token,
		TokenType:     "Bearer",
		ExpiresAt:     &exp,
		User:          u,
		SetupRequired: res.SetupRequired,
	}}, nil
}

type loginVerifyInput struct {
	Body struct {
		ChallengeID string `json:"challenge_id" maxLength:"200" doc:"From the second_factor_required answer of POST /api/v1/auth/login."`
		Code        string `json:"code,omitempty" maxLength:"64" example:"123456" doc:"A 6-digit code of the authenticator app or of the email, or a backup code."`
	}
}

func (a *API) loginVerify(ctx context.Context, in *loginVerifyInput) (*loginOutput, error) {
	st := stateFrom(ctx)
	res, err := a.deps.Security.VerifyLogin(ctx, in.Body.ChallengeID, in.Body.Code, st.ip)
	if err != nil {
		return nil, a.fail(ctx, err)
	}
	return a.signedIn(ctx, res.LoginResult)
}

type loginResendInput struct {
	Body struct {
		ChallengeID string `json:"challenge_id" maxLength:"200" doc:"From the second_factor_required answer of POST /api/v1/auth/login."`
	}
}

func (a *API) loginResend(ctx context.Context, in *loginResendInput) (*struct{}, error) {
	if err := a.deps.Security.ResendEmailCode(ctx, in.Body.ChallengeID); err != nil {
		return nil, a.fail(ctx, err)
	}
	return nil, nil
}

func (a *API) logout(ctx context.Context, _ *struct{}) (*logoutOutput, error) {
	st := stateFrom(ctx)
	if err := a.deps.Auth.Logout(ctx, st.principal); err != nil {
		return nil, a.fail(ctx, err)
	}
	out := &logoutOutput{}
	if st.viaCookie {
		out.SetCookie = auth.SessionCookie("", time.Time{}, a.deps.SecureCookies).String()
	}
	return out, nil
}

func (a *API) me(ctx context.Context, _ *struct{}) (*userOutput, error) {
	own, err := a.deps.Profiles.Own(ctx, principal(ctx).User)
	if err != nil {
		return nil, a.fail(ctx, err)
	}
	out, err := a.withTwoFactor(ctx, fromProfile(own), own.User)
	if err != nil {
		return nil, a.fail(ctx, err)
	}
	return &userOutput{Body: out}, nil
}
