package api

import (
	"context"
	"net/http"

	"github.com/danielgtaylor/huma/v2"

	"roster/internal/profile"
)

// profileChanges are the fields of PATCH /me and PATCH /users/{id}. Each is
// optional: absent leaves it as it is. The rules (and their messages) are
// internal/profile's, shared with the page, so the schema adds no limits of
// its own: every bad field is reported at once.
type profileChanges struct {
	Name     *string `json:"name,omitempty" doc:"Display name: 1 to 50 characters after trimming, no control characters." example:"Ada Lovelace"`
	Phone    *string `json:"phone,omitempty" doc:"A phone number, with or without the country code: numbers without one are read in the workspace's country. Stored in E.164. An empty string removes it." example:"+34 612 34 56 78"`
	Language *string `json:"language,omitempty" doc:"UI language: en, es, pt-BR, id, tr or ru." example:"es"`
	Timezone *string `json:"timezone,omitempty" doc:"IANA time zone; it decides when daily emails arrive." example:"Europe/Madrid"`
	Note     *string `json:"note,omitempty" doc:"Private note, up to 2000 characters. Only admins and holders of profile access may write it, and the note about yourself only an admin; anyone else gets 403." example:"Prefers email."`
}

func (c *profileChanges) changes() profile.Changes {
	return profile.Changes{Name: c.Name, Phone: c.Phone, Language: c.Language, Timezone: c.Timezone, Note: c.Note}
}

type updateMeInput struct {
	Body profileChanges
}

type updateUserInput struct {
	ID   int64 `path:"id" minimum:"1"`
	Body profileChanges
}

type emailChangeBody struct {
	Email string `json:"email" maxLength:"254" doc:"The new address. It must not belong to another user." example:"ada.new@example.com"`
}

type emailChangeMeInput struct {
	Body emailChangeBody
}

type emailChangeUserInput struct {
	ID   int64 `path:"id" minimum:"1"`
	Body emailChangeBody
}

type passwordInput struct {
	Body struct {
		CurrentPassword string `json:"current_password,omitempty" maxLength:"256" doc:"Required while two-step verification is on, when the session is older than the recent sign-in window (10 minutes), and always with an API token."`
		NewPassword     string `json:"new_password" doc:"8 to 256 characters, not a common password, not the email address."`
	}
}

// AuditLog is the audit log of one user, newest first.
type AuditLog struct {
	Items []*AuditEntry `json:"items" nullable:"false"`
}

type auditOutput struct {
	Body *AuditLog
}

// profileOp is op for an operation of a signed-in caller on profiles.
func (a *API) profileOp(o huma.Operation) huma.Operation {
	o.Security = signedIn
	return a.op(o)
}

const (
	tagProfile = "Profile"
	// othersNote is said of every /users/{id} profile operation.
	othersNote = " Anyone may use it on themselves; on others it needs admin or profile access (403 otherwise). " +
		"Users of other workspaces do not exist for the caller (404)."
	emailChangeDoc = "Starts changing the email address: a confirmation link, valid 24 hours and usable once, goes to the " +
		"new address and a notice to the old one. Nothing changes until the link is opened; meanwhile the new " +
		"address shows as pending_email. A new request replaces a pending one. While two-step verification is on " +
		"the change is refused with 409 and the problem type " + ProblemTwoFactorEnabled + ": turn it off first."
)

func (a *API) registerProfile() {
	patchDoc := "Changes any of name, phone, language, timezone and note; absent fields (and null ones) stay as they are. " +
		"All fields are checked first: if any is invalid, nothing changes and 422 lists each bad field. " +
		"Writing the note needs admin or profile access, and only an admin writes the note about themselves (403 otherwise). The email address is not accepted " +
		"here (422, unknown field): change it with the email-change operation, which confirms the new address first."
	patchErrs := []int{http.StatusBadRequest, http.StatusForbidden, http.StatusUnprocessableEntity}
	huma.Register(a.humaAPI, a.profileOp(huma.Operation{
		OperationID: "update-me",
		Method:      http.MethodPatch,
		Path:        "/me",
		Summary:     "Change my profile",
		Description: patchDoc,
		Tags:        []string{tagProfile},
		Errors:      patchErrs,
	}), func(ctx context.Context, in *updateMeInput) (*userOutput, error) {
		return a.update(ctx, principal(ctx).User.ID, &in.Body)
	})
	huma.Register(a.humaAPI, a.profileOp(huma.Operation{
		OperationID: "update-user",
		Method:      http.MethodPatch,
		Path:        "/users/{id}",
		Summary:     "Change a user's profile",
		Description: patchDoc + othersNote,
		Tags:        []string{tagProfile},
		Errors:      append(patchErrs, http.StatusNotFound),
	}), func(ctx context.Context, in *updateUserInput) (*userOutput, error) {
		return a.update(ctx, in.ID, &in.Body)
	})

	emailErrs := []int{http.StatusBadRequest, http.StatusForbidden, http.StatusConflict, http.StatusUnprocessableEntity}
	huma.Register(a.humaAPI, a.profileOp(huma.Operation{
		OperationID:   "request-my-email-change",
		Method:        http.MethodPost,
		Path:          "/me/email-change",
		Summary:       "Change my email address",
		Description:   emailChangeDoc,
		Tags:          []string{tagProfile},
		DefaultStatus: http.StatusAccepted,
		Errors:        emailErrs,
	}), func(ctx context.Context, in *emailChangeMeInput) (*userOutput, error) {
		return a.requestEmailChange(ctx, principal(ctx).User.ID, in.Body.Email)
	})
	huma.Register(a.humaAPI, a.profileOp(huma.Operation{
		OperationID:   "request-email-change",
		Method:        http.MethodPost,
		Path:          "/users/{id}/email-change",
		Summary:       "Change a user's email address",
		Description:   emailChangeDoc + othersNote,
		Tags:          []string{tagProfile},
		DefaultStatus: http.StatusAccepted,
		Errors:        append(emailErrs, http.StatusNotFound),
	}), func(ctx context.Context, in *emailChangeUserInput) (*userOutput, error) {
		return a.requestEmailChange(ctx, in.ID, in.Body.Email)
	})

	cancelDoc := "Cancels the pending email change: its link stops working. 404 when no change is pending."
	huma.Register(a.humaAPI, a.profileOp(huma.Operation{
		OperationID: "cancel-my-email-change",
		Method:      http.MethodDelete,
		Path:        "/me/email-change",
		Summary:     "Cancel my email change",
		Description: cancelDoc,
		Tags:        []string{tagProfile},
		Errors:      []int{http.StatusForbidden, http.StatusNotFound},
	}), func(ctx context.Context, _ *struct{}) (*userOutput, error) {
		return a.cancelEmailChange(ctx, principal(ctx).User.ID)
	})
	huma.Register(a.humaAPI, a.profileOp(huma.Operation{
		OperationID: "cancel-email-change",
		Method:      http.MethodDelete,
		Path:        "/users/{id}/email-change",
		Summary:     "Cancel a user's email change",
		Description: cancelDoc + othersNote,
		Tags:        []string{tagProfile},
		Errors:      []int{http.StatusForbidden, http.StatusNotFound, http.StatusUnprocessableEntity},
	}), func(ctx context.Context, in *userIDInput) (*userOutput, error) {
		return a.cancelEmailChange(ctx, in.ID)
	})

	huma.Register(a.humaAPI, a.profileOp(huma.Operation{
		OperationID: "change-my-password",
		Method:      http.MethodPost,
		Path:        "/me/password",
		Summary:     "Change my password",
		Description: "Sets a new password. The current password is required while two-step verification is on, " +
			"and otherwise unless this session signed in within the last 10 minutes; API tokens always need it. " +
			"Every other session of the user ends, and a notice goes to their address. Only the owner sets a " +
			"password: admins send a reset link instead. Repeated wrong passwords give 429.",
		Tags:          []string{tagProfile},
		DefaultStatus: http.StatusNoContent,
		Errors:        []int{http.StatusBadRequest, http.StatusUnprocessableEntity},
	}), a.changePassword)

	huma.Register(a.humaAPI, a.profileOp(huma.Operation{
		OperationID:   "send-password-reset",
		Method:        http.MethodPost,
		Path:          "/users/{id}/password-reset",
		Summary:       "Mail a user a password reset link",
		Description:   "Admins only. The link is valid 24 hours and works once. Inactive users get 409.",
		Tags:          []string{"Administration"},
		DefaultStatus: http.StatusAccepted,
		Errors:        []int{http.StatusForbidden, http.StatusNotFound, http.StatusConflict, http.StatusUnprocessableEntity},
	}), a.sendPasswordReset)

	huma.Register(a.humaAPI, a.profileOp(huma.Operation{
		OperationID: "get-user-audit",
		Method:      http.MethodGet,
		Path:        "/users/{id}/audit",
		Summary:     "A user's audit log",
		Description: "Admins only. The latest 100 changes of the user's email, password and note, newest first: " +
			"who, what, when and from which address. Secret values are never recorded.",
		Tags:   []string{"Administration"},
		Errors: []int{http.StatusForbidden, http.StatusNotFound, http.StatusUnprocessableEntity},
	}), a.auditLog)
}

func (a *API) update(ctx context.Context, targetID int64, c *profileChanges) (*userOutput, error) {
	st := stateFrom(ctx)
	p, err := a.deps.Profiles.Update(ctx, st.principal.User, targetID, c.changes(), st.ip)
	return a.profileOutput(ctx, p, err)
}

func (a *API) requestEmailChange(ctx context.Context, targetID int64, email string) (*userOutput, error) {
	st := stateFrom(ctx)
	p, err := a.deps.Profiles.RequestEmailChange(ctx, st.principal.User, targetID, email, st.ip)
	return a.profileOutput(ctx, p, err)
}

func (a *API) cancelEmailChange(ctx context.Context, targetID int64) (*userOutput, error) {
	st := stateFrom(ctx)
	actor := st.principal.User
	p, err := a.deps.Profiles.CancelEmailChange(ctx, actor, targetID, st.ip)
	return a.profileOutput(ctx, p, err)
}

// profileOutput answers with p, or the problem for err.
func (a *API) profileOutput(ctx context.Context, p *profile.Profile, err error) (*userOutput, error) {
	if err != nil {
		return nil, a.fail(ctx, err)
	}
	out, err := a.withTwoFactor(ctx, fromProfile(p), p.User)
	if err != nil {
		return nil, a.fail(ctx, err)
	}
	return &userOutput{Body: out}, nil
}

func (a *API) changePassword(ctx context.Context, in *passwordInput) (*struct{}, error) {
	st := stateFrom(ctx)
	err := a.deps.Profiles.ChangePassword(ctx, st.principal, profile.PasswordChange{
		Current: in.Body.CurrentPassword,
		New:     in.Body.NewPassword,
		IP:      st.ip,
	})
	if err != nil {
		return nil, a.fail(ctx, err)
	}
	return nil, nil
}

func (a *API) sendPasswordReset(ctx context.Context, in *userIDInput) (*struct{}, error) {
	st := stateFrom(ctx)
	if err := a.deps.Profiles.SendPasswordReset(ctx, st.principal.User, in.ID, st.ip); err != nil {
		return nil, a.fail(ctx, err)
	}
	return nil, nil
}

func (a *API) auditLog(ctx context.Context, in *userIDInput) (*auditOutput, error) {
	entries, err := a.deps.Profiles.AuditLog(ctx, principal(ctx).User, in.ID)
	if err != nil {
		return nil, a.fail(ctx, err)
	}
	out := &AuditLog{Items: make([]*AuditEntry, 0, len(entries))}
	for _, e := range entries {
		out.Items = append(out.Items, toAuditEntry(e))
	}
	return &auditOutput{Body: out}, nil
}
