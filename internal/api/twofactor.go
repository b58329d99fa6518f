package api

import (
	"context"
	"net/http"
	"time"

	"github.com/danielgtaylor/huma/v2"

	"roster/internal/core"
	"roster/internal/security"
)

// TwoFactorStatus answers GET /me/two-factor.
type TwoFactorStatus struct {
	Enabled         bool             `json:"enabled" doc:"true when at least one method is on."`
	Methods         TwoFactorMethods `json:"methods"`
	BackupCodesLeft int              `json:"backup_codes_left" doc:"Unused backup codes."`
	Pending         TwoFactorPending `json:"pending"`
}

// TwoFactorPending tells which set-ups wait for their code, and until when.
type TwoFactorPending struct {
	TOTP  *time.Time `json:"totp" nullable:"true" doc:"When the authenticator set-up waiting for its first code expires; null when none."`
	Email *time.Time `json:"email" nullable:"true" doc:"When the emailed-codes set-up waiting for the code sent expires; null when none."`
}

// TwoFactorMethods tells which methods are on.
type TwoFactorMethods struct {
	TOTP  bool `json:"totp" doc:"Authenticator app."`
	Email bool `json:"email" doc:"Codes sent by email."`
}

// TOTPSetup is what an authenticator app needs to add Roster.
type TOTPSetup struct {
	Secret     string `json:"secret" doc:"The key in base32, for typing into the app."`
	OTPAuthURI string `json:"otpauth_uri" doc:"The otpauth:// URI the QR code holds."`
	QRCode     string `json:"qr_code" doc:"The QR code as a data: URI of a PNG image, ready for an img element."`
}

// BackupCodes are shown once: on enabling the first method and on
// regenerating.
type BackupCodes struct {
	BackupCodes []string `json:"backup_codes" nullable:"false" doc:"Single-use codes, shown only in this response. Empty when enabling a second method: the existing codes stay."`
}

type twoFactorStatusOutput struct{ Body *TwoFactorStatus }

type totpSetupOutput struct{ Body *TOTPSetup }

type backupCodesOutput struct{ Body *BackupCodes }

// startMethodInput starts adding a method: the password, and a code while
// another method is on.
type startMethodInput struct {
	Body struct {
		Password string `json:"password" maxLength:"256" doc:"The user's current password."`
		Code     string `json:"code,omitempty" maxLength:"64" example:"123456" doc:"Needed while another method is on: a current code of it, or a backup code (422 on field code otherwise)."`
	}
}

type codeInput struct {
	Body struct {
		Code string `json:"code" maxLength:"64" example:"123456" doc:"The 6-digit code from the authenticator app or the email."`
	}
}

type passwordCodeBody struct {
	Password string `json:"password" maxLength:"256" doc:"The user's current password."`
	Code     string `json:"code,omitempty" maxLength:"64" example:"123456" doc:"A current code of any method that is on, or a backup code. Required; a missing code gives 422."`
}

type disableInput struct {
	Method string `path:"method" enum:"totp,email" doc:"totp (authenticator app) or email."`
	Body   passwordCodeBody
}

type regenerateInput struct {
	Body passwordCodeBody
}

const (
	tagTwoFactor  = "Two-step verification"
	webOnlyDoc    = " Only from the web app's session cookie: bearer tokens get 403 with the problem type " + ProblemWebOnly + "."
	enableNoteDoc = " Turning a method on signs out every other session of the user, emails a notice and is audited."
)

// twoFactorOp is op for an operation on the caller's own two-step
// verification; webOnly ones refuse bearer tokens.
func (a *API) twoFactorOp(o huma.Operation, webOnly bool) huma.Operation {
	o.Security = signedIn
	o.Tags = []string{tagTwoFactor}
	if o.Metadata == nil {
		o.Metadata = map[string]any{}
	}
	if webOnly {
		o.Metadata[metaWebOnly] = true
		o.Description += webOnlyDoc
		o.Errors = append(o.Errors, http.StatusForbidden)
	}
	return a.op(o)
}

func (a *API) registerTwoFactor() {
	huma.Register(a.humaAPI, a.twoFactorOp(huma.Operation{
		OperationID: "get-two-factor",
		Method:      http.MethodGet,
		Path:        "/me/two-factor",
		Summary:     "Two-step verification status",
		Description: "Which methods are on and how many backup codes are left. Open to every caller, bearer tokens included." + twoFactorExemptDoc,
		Metadata:    map[string]any{metaOpenWithoutTwoFactor: true},
	}, false), a.twoFactorStatus)

	changeErrs := []int{http.StatusBadRequest, http.StatusConflict, http.StatusUnprocessableEntity}
	huma.Register(a.humaAPI, a.twoFactorOp(huma.Operation{
		OperationID: "start-totp",
		Method:      http.MethodPost,
		Path:        "/me/two-factor/totp",
		Summary:     "Start adding an authenticator app",
		Description: "Checks the password (422 on field password when wrong) and, while email codes are on, a current code " +
			"(422 on field code) and returns a new key: show the QR code " +
			"or the key, then confirm with a code from the app. Nothing is on until confirmed; starting again replaces the key. " +
			"409 when the app is already on.",
		Errors: changeErrs,
	}, true), a.startTOTP)

	huma.Register(a.humaAPI, a.twoFactorOp(huma.Operation{
		OperationID: "confirm-totp",
		Method:      http.MethodPost,
		Path:        "/me/two-factor/totp/confirm",
		Summary:     "Turn the authenticator app on",
		Description: "Checks a current code of the app (422 on field code when wrong; wrong codes count like wrong passwords) " +
			"and turns the app on. When it is the first method, the answer holds 10 backup codes, shown only here. " +
			"409 when no setup is waiting." + enableNoteDoc,
		Errors: changeErrs,
	}, true), a.confirmTOTP)

	huma.Register(a.humaAPI, a.twoFactorOp(huma.Operation{
		OperationID: "start-email-codes",
		Method:      http.MethodPost,
		Path:        "/me/two-factor/email",
		Summary:     "Start turning on email codes",
		Description: "Checks the password (422 on field password when wrong) and, while the authenticator app is on, a current " +
			"code of it or a backup code (422 on field code), and emails a 6-digit code, valid 10 minutes, " +
			"to confirm with. 409 when email codes are already on.",
		DefaultStatus: http.StatusAccepted,
		Errors:        changeErrs,
	}, true), a.startEmail)

	huma.Register(a.humaAPI, a.twoFactorOp(huma.Operation{
		OperationID: "confirm-email-codes",
		Method:      http.MethodPost,
		Path:        "/me/two-factor/email/confirm",
		Summary:     "Turn email codes on",
		Description: "Checks the emailed code (422 on field code when wrong; 5 tries) and turns email codes on. " +
			"When it is the first method, the answer holds 10 backup codes, shown only here. " +
			"409 when no code was sent." + enableNoteDoc,
		Errors: changeErrs,
	}, true), a.confirmEmail)

	huma.Register(a.humaAPI, a.twoFactorOp(huma.Operation{
		OperationID: "disable-two-factor-method",
		Method:      http.MethodDelete,
		Path:        "/me/two-factor/{method}",
		Summary:     "Turn a method off",
		Description: "Needs the password and a current code of any method that is on, or a backup code (422 on field password " +
			"or code otherwise). When no method is left, the backup codes go too and two-step verification is off. " +
			"409 when the method is not on. Emails a notice and is audited.",
		DefaultStatus: http.StatusNoContent,
		Errors:        changeErrs,
	}, true), a.disableTwoFactor)

	huma.Register(a.humaAPI, a.twoFactorOp(huma.Operation{
		OperationID: "send-two-factor-code",
		Method:      http.MethodPost,
		Path:        "/me/two-factor/send-code",
		Summary:     "Email a code for a change",
		Description: "For users with email codes on: emails a 6-digit code, valid 10 minutes, that turning a method off " +
			"and replacing the backup codes accept. At most once a minute: sooner gives 429 with Retry-After. " +
			"409 when email codes are off.",
		DefaultStatus: http.StatusAccepted,
		Errors:        []int{http.StatusConflict},
	}, true), a.sendTwoFactorCode)

	huma.Register(a.humaAPI, a.twoFactorOp(huma.Operation{
		OperationID: "regenerate-backup-codes",
		Method:      http.MethodPost,
		Path:        "/me/two-factor/backup-codes",
		Summary:     "Replace the backup codes",
		Description: "Needs the password and a current code (or a backup code). The old backup codes stop working; " +
			"the 10 new ones are shown only in this answer. 409 when two-step verification is off.",
		Errors: changeErrs,
	}, true), a.regenerateBackupCodes)

	huma.Register(a.humaAPI, a.op(huma.Operation{
		OperationID: "reset-two-factor",
		Method:      http.MethodPost,
		Path:        "/users/{id}/two-factor/reset",
		Summary:     "Reset a user's two-step verification",
		Description: "Admins only, for a user who lost their phone and backup codes: removes every method and backup code, " +
			"signs the user out everywhere, emails them and is audited. Admins cannot reset their own (403)." + webOnlyDoc,
		Tags:          []string{"Administration"},
		Security:      signedIn,
		DefaultStatus: http.StatusNoContent,
		Errors:        []int{http.StatusForbidden, http.StatusNotFound, http.StatusUnprocessableEntity},
		Metadata:      map[string]any{metaWebOnly: true},
	}), a.resetTwoFactor)
}

func (a *API) twoFactorStatus(ctx context.Context, _ *struct{}) (*twoFactorStatusOutput, error) {
	st, err := a.deps.Security.Status(ctx, principal(ctx).User)
	if err != nil {
		return nil, a.fail(ctx, err)
	}
	return &twoFactorStatusOutput{Body: &TwoFactorStatus{
		Enabled:         st.Enabled(),
		Methods:         TwoFactorMethods{TOTP: st.TOTP, Email: st.Email},
		BackupCodesLeft: st.BackupCodesLeft,
		Pending:         TwoFactorPending{TOTP: pendingUntil(st.PendingTOTP), Email: pendingUntil(st.PendingEmail)},
	}}, nil
}

func pendingUntil(p *security.Pending) *time.Time {
	if p == nil {
		return nil
	}
	return optTime(p.ExpiresAt)
}

func (a *API) startTOTP(ctx context.Context, in *startMethodInput) (*totpSetupOutput, error) {
	st := stateFrom(ctx)
	ws, err := a.deps.Accounts.Workspace(ctx, st.principal.User)
	if err != nil {
		return nil, a.fail(ctx, err)
	}
	setup, err := a.deps.Security.StartTOTP(ctx, st.principal, in.Body.Password, in.Body.Code, ws.Name, st.ip)
	if err != nil {
		return nil, a.fail(ctx, err)
	}
	return &totpSetupOutput{Body: &TOTPSetup{Secret: setup.Secret, OTPAuthURI: setup.URI, QRCode: setup.QRDataURI()}}, nil
}

func (a *API) confirmTOTP(ctx context.Context, in *codeInput) (*backupCodesOutput, error) {
	st := stateFrom(ctx)
	codes, err := a.deps.Security.ConfirmTOTP(ctx, st.principal, in.Body.Code, st.ip)
	return a.backupCodes(ctx, codes, err)
}

func (a *API) startEmail(ctx context.Context, in *startMethodInput) (*struct{}, error) {
	st := stateFrom(ctx)
	if err := a.deps.Security.StartEmail(ctx, st.principal, in.Body.Password, in.Body.Code, st.ip); err != nil {
		return nil, a.fail(ctx, err)
	}
	return nil, nil
}

func (a *API) confirmEmail(ctx context.Context, in *codeInput) (*backupCodesOutput, error) {
	st := stateFrom(ctx)
	codes, err := a.deps.Security.ConfirmEmail(ctx, st.principal, in.Body.Code, st.ip)
	return a.backupCodes(ctx, codes, err)
}

func (a *API) disableTwoFactor(ctx context.Context, in *disableInput) (*struct{}, error) {
	st := stateFrom(ctx)
	err := a.deps.Security.Disable(ctx, st.principal, core.TwoFactorMethod(in.Method), in.Body.Password, in.Body.Code, st.ip)
	if err != nil {
		return nil, a.fail(ctx, err)
	}
	return nil, nil
}

func (a *API) sendTwoFactorCode(ctx context.Context, _ *struct{}) (*struct{}, error) {
	if err := a.deps.Security.SendManageCode(ctx, principal(ctx)); err != nil {
		return nil, a.fail(ctx, err)
	}
	return nil, nil
}

func (a *API) regenerateBackupCodes(ctx context.Context, in *regenerateInput) (*backupCodesOutput, error) {
	st := stateFrom(ctx)
	codes, err := a.deps.Security.RegenerateBackupCodes(ctx, st.principal, in.Body.Password, in.Body.Code, st.ip)
	return a.backupCodes(ctx, codes, err)
}

// backupCodes answers with codes, or the problem for err.
func (a *API) backupCodes(ctx context.Context, codes []string, err error) (*backupCodesOutput, error) {
	if err != nil {
		return nil, a.fail(ctx, err)
	}
	if codes == nil {
		codes = []string{}
	}
	return &backupCodesOutput{Body: &BackupCodes{BackupCodes: codes}}, nil
}

func (a *API) resetTwoFactor(ctx context.Context, in *userIDInput) (*struct{}, error) {
	st := stateFrom(ctx)
	if err := a.deps.Security.Reset(ctx, st.principal, in.ID, st.ip); err != nil {
		return nil, a.fail(ctx, err)
	}
	return nil, nil
}
