package web

import (
	"html/template"
	"net/http"
	"net/url"
	"strings"

	"roster/internal/auth"
	"roster/internal/core"
	"roster/internal/i18n"
	"roster/internal/security"
)

// Settings → Security: two-step verification and signed-in sessions. The
// rules live in internal/security and internal/auth; these handlers only
// turn forms into calls and results into pages.

type securityData struct {
	Sessions  []*core.Session
	CurrentID int64
	Status    *security.Status
	// Setup is the key of the authenticator set-up waiting for its code,
	// shown until it is confirmed, cancelled or expires.
	Setup *totpSetupView
	// EmailPending is true while emailed codes wait for the code sent.
	EmailPending bool
	// Codes are new backup codes, shown once, with a download link.
	Codes    []string
	CodesURL template.URL
	// SignedOut says other devices were signed out when a method was turned
	// on.
	SignedOut bool
	// Errors holds per-field messages of the form that failed, as
	// "form.field": several forms on the page share field names.
	Errors map[string]string
	// Required is true while the workspace requires two-step verification
	// and this person has none: every other page sends them here.
	Required bool
	// Devices are the mobile app's installs that get push notifications.
	Devices []*core.MobileDevice
}

type totpSetupView struct {
	QR      template.URL // data:image/png URI, made by us
	Secret  string
	Grouped string // Secret in groups of four, for typing
}

// disableFormData fills the form that turns one method off.
type disableFormData struct {
	Method                   string
	Label                    string // message key of the button
	PasswordError, CodeError string
}

func disableForm(d *securityData, method string) disableFormData {
	f := disableFormData{Method: method, Label: i18n.Key("web.two_factor.turn_off_app")}
	if method == string(core.MethodEmail) {
		f.Label = i18n.Key("web.two_factor.turn_off_email")
	}
	f.PasswordError = d.Errors["disable_"+method+".password"]
	f.CodeError = d.Errors["disable_"+method+".code"]
	return f
}

// groupKey writes a key in groups of four characters for reading aloud or
// typing into an app.
func groupKey(s string) string {
	var b strings.Builder
	for i, r := range s {
		if i > 0 && i%4 == 0 {
			b.WriteByte(' ')
		}
		b.WriteRune(r)
	}
	return b.String()
}

// renderSecurity renders the security page with d. With failed set, form
// names the form whose fields get the messages and the status follows the
// error. flash, when set, is the key of a success message for results shown
// on the response itself (they have no page to redirect to).
func (h *Handler) renderSecurity(w http.ResponseWriter, r *http.Request, d *securityData, flash, form string, failed error) {
	ctx := r.Context()
	p := principalFrom(ctx)
	sessions, err := h.deps.Auth.Sessions(ctx, p.User)
	if err != nil {
		h.fail(w, r, err)
		return
	}
	st, err := h.deps.Security.Status(ctx, p.User)
	if err != nil {
		h.fail(w, r, err)
		return
	}
	pol, err := h.deps.Security.Policy(ctx, p.User.WorkspaceID)
	if err != nil {
		h.fail(w, r, err)
		return
	}
	d.Sessions, d.CurrentID, d.Status = sessions, p.Session.ID, st
	if d.Devices, err = h.deps.Devices.List(ctx, p.User); err != nil {
		h.fail(w, r, err)
		return
	}
	// A set-up waiting for its code stays on screen across reloads and
	// wrong codes; its key is kept sealed on the server.
	if d.Setup == nil && st.PendingTOTP != nil {
		// Should the key not open (a changed secret key), the page still
		// shows the code field and a way to start again.
		if setup, err := h.deps.Security.PendingTOTPSetup(ctx, p, h.workspaceName(r, p)); err == nil {
			d.Setup = totpView(setup)
		} else {
			h.logger(ctx).Warn("show pending authenticator setup", "err", err)
		}
	}
	d.EmailPending = st.PendingEmail != nil
	d.Required = pol.RequireTwoFactor && !st.Enabled()
	v := h.settingsView(r, "/settings/security", i18n.Key("web.security.title"))
	status := http.StatusOK
	if flash != "" {
		v.Flash = h.loc(v.Lang).T(flash)
	}
	if failed != nil {
		v.Flash = ""
		status = h.applyError(ctx, w, v, failed)
		d.Errors = make(map[string]string, len(v.Fields))
		for k, msg := range v.Fields {
			d.Errors[form+"."+k] = msg
		}
	}
	if len(d.Codes) > 0 {
		d.CodesURL = backupCodesURL(h.loc(v.Lang), p.User, v.Workspace, d.Codes)
	}
	v.Data = d
	h.render(w, r, status, "security", v)
}

// backupCodesURL is a data: URL of a text file with the codes, for a
// download link that needs no script and no second request.
func backupCodesURL(l *i18n.Localizer, u *core.User, ws *core.Workspace, codes []string) template.URL {
	name := ""
	if ws != nil {
		name = ws.Name
	}
	var b strings.Builder
	b.WriteString(l.T("web.two_factor.codes_file_title", map[string]any{"Email": u.Email, "Workspace": name}))
	b.WriteString("\n")
	b.WriteString(l.T("web.two_factor.codes_file_hint"))
	b.WriteString("\n\n")
	for _, c := range codes {
		b.WriteString(c)
		b.WriteString("\n")
	}
	// Every byte outside a path segment's safe set is percent-encoded, so
	// the text cannot end the attribute or the URL.
	return template.URL("data:text/plain;charset=utf-8," + url.PathEscape(b.String())) //nolint:gosec // built here from escaped text
}

func (h *Handler) security(w http.ResponseWriter, r *http.Request) {
	h.renderSecurity(w, r, &securityData{}, "", "", nil)
}

// securityFailed shows a refused change on the security page, or as an
// error page when it is not something the person can fix there.
func (h *Handler) securityFailed(w http.ResponseWriter, r *http.Request, d *securityData, form string, err error) {
	switch core.ErrorCode(err) {
	case core.EINVALID, core.ECONFLICT, core.ETOOMANY, core.EFORBIDDEN:
		h.renderSecurity(w, r, d, "", form, err)
	default:
		h.fail(w, r, err)
	}
}

// enabled shows the page after a method was turned on: the backup codes
// when it was the first method, else a message.
func (h *Handler) enabled(w http.ResponseWriter, r *http.Request, codes []string, done string) {
	if len(codes) == 0 {
		redirect(w, r, "/settings/security?done="+done)
		return
	}
	h.renderSecurity(w, r, &securityData{Codes: codes, SignedOut: true}, i18n.Key("web.flash.two_factor_on"), "", nil)
}

func (h *Handler) startTOTP(w http.ResponseWriter, r *http.Request) {
	p := principalFrom(r.Context())
	if !h.parseForm(w, r) {
		return
	}
	setup, err := h.deps.Security.StartTOTP(r.Context(), p, r.PostForm.Get("password"), r.PostForm.Get("code"), h.workspaceName(r, p), clientIP(r))
	if err != nil {
		h.securityFailed(w, r, &securityData{}, "totp", err)
		return
	}
	h.renderSecurity(w, r, &securityData{Setup: totpView(setup)}, "", "", nil)
}

// workspaceName names the issuer in an authenticator app; "" when unknown.
func (h *Handler) workspaceName(r *http.Request, p *auth.Principal) string {
	if ws, err := h.deps.Accounts.Workspace(r.Context(), p.User); err == nil && ws != nil {
		return ws.Name
	}
	return ""
}

func totpView(setup *security.TOTPSetup) *totpSetupView {
	return &totpSetupView{
		QR:      template.URL(setup.QRDataURI()), //nolint:gosec // a base64 PNG we made
		Secret:  setup.Secret,
		Grouped: groupKey(setup.Secret),
	}
}

// methodOf reads the {method} of a path: totp or email; anything else
// answers 404 and returns false.
func (h *Handler) methodOf(w http.ResponseWriter, r *http.Request) (core.TwoFactorMethod, bool) {
	method := core.TwoFactorMethod(r.PathValue("method"))
	if method != core.MethodTOTP && method != core.MethodEmail {
		h.fail(w, r, core.ErrNotFound)
		return "", false
	}
	return method, true
}

// cancelSetup drops a set-up of a method that waits for its code.
func (h *Handler) cancelSetup(w http.ResponseWriter, r *http.Request) {
	p := principalFrom(r.Context())
	method, ok := h.methodOf(w, r)
	if !ok {
		return
	}
	if err := h.deps.Security.CancelSetup(r.Context(), p, method); err != nil {
		h.securityFailed(w, r, &securityData{}, "cancel_"+string(method), err)
		return
	}
	redirect(w, r, "/settings/security?done=setup_cancelled")
}

func (h *Handler) confirmTOTP(w http.ResponseWriter, r *http.Request) {
	p := principalFrom(r.Context())
	if !h.parseForm(w, r) {
		return
	}
	codes, err := h.deps.Security.ConfirmTOTP(r.Context(), p, r.PostForm.Get("code"), clientIP(r))
	if err != nil {
		h.securityFailed(w, r, &securityData{}, "totp_confirm", err)
		return
	}
	h.enabled(w, r, codes, "totp_on")
}

func (h *Handler) startEmail(w http.ResponseWriter, r *http.Request) {
	p := principalFrom(r.Context())
	if !h.parseForm(w, r) {
		return
	}
	if err := h.deps.Security.StartEmail(r.Context(), p, r.PostForm.Get("password"), r.PostForm.Get("code"), clientIP(r)); err != nil {
		h.securityFailed(w, r, &securityData{}, "email", err)
		return
	}
	h.renderSecurity(w, r, &securityData{}, "", "", nil)
}

// confirmEmail2FA turns on email codes with the code just mailed. (The
// name confirmEmail belongs to the email-change link.)
func (h *Handler) confirmEmail2FA(w http.ResponseWriter, r *http.Request) {
	p := principalFrom(r.Context())
	if !h.parseForm(w, r) {
		return
	}
	codes, err := h.deps.Security.ConfirmEmail(r.Context(), p, r.PostForm.Get("code"), clientIP(r))
	if err != nil {
		h.securityFailed(w, r, &securityData{}, "email_confirm", err)
		return
	}
	h.enabled(w, r, codes, "email_on")
}

func (h *Handler) disableMethod(w http.ResponseWriter, r *http.Request) {
	p := principalFrom(r.Context())
	method, ok := h.methodOf(w, r)
	if !ok {
		return
	}
	if !h.parseForm(w, r) {
		return
	}
	err := h.deps.Security.Disable(r.Context(), p, method, r.PostForm.Get("password"), r.PostForm.Get("code"), clientIP(r))
	if err != nil {
		h.securityFailed(w, r, &securityData{}, "disable_"+string(method), err)
		return
	}
	redirect(w, r, "/settings/security?done=two_factor_off")
}

func (h *Handler) regenerateCodes(w http.ResponseWriter, r *http.Request) {
	p := principalFrom(r.Context())
	if !h.parseForm(w, r) {
		return
	}
	codes, err := h.deps.Security.RegenerateBackupCodes(r.Context(), p, r.PostForm.Get("password"), r.PostForm.Get("code"), clientIP(r))
	if err != nil {
		h.securityFailed(w, r, &securityData{}, "backup", err)
		return
	}
	h.renderSecurity(w, r, &securityData{Codes: codes}, i18n.Key("web.flash.backup_codes_renewed"), "", nil)
}

// sendManageCode mails a code for the disable and regenerate forms to a
// person whose method is email codes, at most once a minute.
func (h *Handler) sendManageCode(w http.ResponseWriter, r *http.Request) {
	p := principalFrom(r.Context())
	if err := h.deps.Security.SendManageCode(r.Context(), p); err != nil {
		h.securityFailed(w, r, &securityData{}, "send_code", err)
		return
	}
	redirect(w, r, "/settings/security?done=code_sent#backup")
}

func (h *Handler) revokeSession(w http.ResponseWriter, r *http.Request) {
	p := principalFrom(r.Context())
	id, ok := h.pathID(w, r)
	if !ok {
		return
	}
	if id == p.Session.ID {
		// Signing out this device is the sign-out button.
		h.signOut(w, r, p)
		return
	}
	if err := h.deps.Auth.RevokeSession(r.Context(), p.User, id); err != nil {
		h.fail(w, r, err)
		return
	}
	redirect(w, r, "/settings/security?done=session_revoked")
}

// removeDevice stops push notifications to one of the person's devices.
func (h *Handler) removeDevice(w http.ResponseWriter, r *http.Request) {
	p := principalFrom(r.Context())
	id, ok := h.pathID(w, r)
	if !ok {
		return
	}
	if err := h.deps.Devices.Remove(r.Context(), p.User, id); err != nil {
		h.fail(w, r, err)
		return
	}
	redirect(w, r, "/settings/security?done=device_removed#devices")
}

func (h *Handler) signOut(w http.ResponseWriter, r *http.Request, p *auth.Principal) {
	if err := h.deps.Auth.Logout(r.Context(), p); err != nil {
		h.fail(w, r, err)
		return
	}
	h.clearCookie(w)
	redirect(w, r, "/login")
}

func (h *Handler) revokeOtherSessions(w http.ResponseWriter, r *http.Request) {
	p := principalFrom(r.Context())
	if err := h.deps.Auth.RevokeOtherSessions(r.Context(), p.User, p.Session.ID); err != nil {
		h.fail(w, r, err)
		return
	}
	redirect(w, r, "/settings/security?done=sessions_revoked")
}

// resetTwoFactor lets an admin remove another user's second step when they
// lost it; the domain refuses it on yourself.
func (h *Handler) resetTwoFactor(w http.ResponseWriter, r *http.Request) {
	p := principalFrom(r.Context())
	id, base, ok := h.profileTarget(w, r)
	if !ok {
		return
	}
	if err := h.deps.Security.Reset(r.Context(), p, id, clientIP(r)); err != nil {
		h.profileFailed(w, r, id, err, nil)
		return
	}
	redirect(w, r, base+"?done=two_factor_reset")
}
