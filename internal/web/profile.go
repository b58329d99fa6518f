package web

import (
	"errors"
	"io"
	"mime"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"roster/internal/auth"
	"roster/internal/core"
	"roster/internal/i18n"
	"roster/internal/photo"
	"roster/internal/profile"
)

// Settings → Profile settings. The same page and handlers serve the
// signed-in person's own profile (/settings/profile) and, for admins and
// holders of profile access, any user of the workspace
// (/settings/users/{id}); internal/profile decides who may do what.

// photoFormMemory is how much of a multipart upload is kept in memory;
// the rest goes to a temporary file until the request ends.
const photoFormMemory = 1 << 20

// photoBodyLimit caps a photo upload request: the largest accepted file
// plus room for the multipart framing. Anything bigger is refused while
// reading, before it is stored anywhere.
const photoBodyLimit = photo.MaxUploadBytes + 1<<20

type profileData struct {
	User         *core.User
	Self         bool
	Base         string // URL of this profile's page; forms post below it
	ShowNote     bool
	NoteEditable bool // else the note shows read-only, outside the form
	PendingEmail string
	// Values are what the main and email forms show: the stored values,
	// or what was typed when a save was refused.
	Values      map[string]string
	EmailLocked bool // two-step verification is on: no email change
	// EmailEditable: the viewer may change this address; others see it only.
	EmailEditable bool
	CanReset      bool // the viewer may send this user a password reset link
	// CanResetTwoFactor: an admin looking at someone else whose two-step
	// verification is on may remove it.
	CanResetTwoFactor bool
	ShowAudit         bool
	Audit             auditTable
	// RecentMinutes is the recent sign-in window, for the password hint.
	RecentMinutes int
	PhotoMB       int
}

// auditTable is audit entries ready to show, for the "audit-table"
// template shared by the profile's Activity and the workspace audit page.
type auditTable struct {
	Rows     []auditRow
	ShowUser bool // a column for whom the entry is about
	Loc      *time.Location
}

type auditRow struct {
	At     time.Time
	User   string // target's name; "" when not known
	Actor  string // "" when none is recorded
	ByLink bool   // done by someone with an emailed link
	Action string // translated
	Detail string
	IP     string
}

// linkActions are done by whoever opens an emailed link, so no account is
// recorded as their actor.
var linkActions = map[core.AuditAction]bool{core.AuditPasswordReset: true, core.AuditEmailChanged: true, core.AuditEmailChangeUndone: true}

// newAuditTable translates entries; names (may be nil) gives target names
// and turns the user column on.
func newAuditTable(l *i18n.Localizer, loc *time.Location, entries []*core.AuditEntry, names map[int64]string) auditTable {
	t := auditTable{ShowUser: names != nil, Loc: loc}
	for _, e := range entries {
		row := auditRow{At: e.CreatedAt, User: names[e.TargetID], Action: l.T(auditKey(e.Action)), Detail: auditDetail(l, e), IP: e.IP}
		switch {
		case e.ActorID != 0:
			row.Actor = e.ActorName
		case linkActions[e.Action]:
			row.ByLink = true
		}
		t.Rows = append(t.Rows, row)
	}
	return t
}

// profileTarget returns whose profile a request is about and the URL of
// that profile's page. Opening your own id under /settings/users is your
// own profile page. A malformed id gets the 404 page and ok false.
func (h *Handler) profileTarget(w http.ResponseWriter, r *http.Request) (id int64, base string, ok bool) {
	me := principalFrom(r.Context()).User
	if r.PathValue("id") == "" {
		return me.ID, profileURL, true
	}
	if id, ok = h.pathID(w, r); !ok {
		return 0, "", false
	}
	if id == me.ID {
		return id, profileURL, true
	}
	return id, "/settings/users/" + strconv.FormatInt(id, 10), true
}

func (h *Handler) profilePage(w http.ResponseWriter, r *http.Request) {
	id, base, ok := h.profileTarget(w, r)
	if !ok {
		return
	}
	if r.PathValue("id") != "" && base == profileURL {
		to := profileURL
		if r.URL.RawQuery != "" {
			to += "?" + r.URL.RawQuery
		}
		redirectFound(w, r, to)
		return
	}
	h.renderProfile(w, r, id, nil, nil)
}

// renderProfile renders the profile page of user id as the signed-in
// person may see it. With failed set, it shows that error's messages and
// the submitted form values instead of the stored ones; the status then
// follows the error.
func (h *Handler) renderProfile(w http.ResponseWriter, r *http.Request, id int64, failed error, form url.Values) {
	ctx := r.Context()
	me := principalFrom(ctx).User
	var p *profile.Profile
	var err error
	if id == me.ID {
		p, err = h.deps.Profiles.Own(ctx, me)
	} else {
		p, err = h.deps.Profiles.Get(ctx, me, id)
	}
	if err != nil {
		h.fail(w, r, err)
		return
	}
	u := p.User
	var v *view
	d := &profileData{
		User:              u,
		Self:              p.Self,
		Base:              profileURL,
		ShowNote:          p.NoteVisible,
		NoteEditable:      p.NoteEditable,
		PendingEmail:      p.PendingEmail,
		EmailLocked:       u.TwoFactorEnabled,
		EmailEditable:     p.EmailEditable,
		CanReset:          me.IsAdmin() && !p.Self,
		CanResetTwoFactor: me.IsAdmin() && !p.Self && u.TwoFactorEnabled,
		RecentMinutes:     int(h.deps.Profiles.RecentSignIn() / time.Minute),
		PhotoMB:           photo.MaxUploadBytes >> 20,
	}
	if p.Self {
		v = h.settingsView(r, profileURL, i18n.Key("web.profile.title"))
	} else {
		v = h.settingsView(r, "/settings/users", i18n.Key("web.profile.user_title"))
		d.Base = "/settings/users/" + strconv.FormatInt(u.ID, 10)
	}
	l := h.loc(v.Lang)
	// Who may read the audit log is the domain's call: forbidden hides it.
	entries, err := h.deps.Profiles.AuditLog(ctx, me, id)
	switch {
	case err == nil:
		d.ShowAudit = true
		d.Audit = newAuditTable(l, loadLocation(me.Timezone), entries, nil)
	case core.ErrorCode(err) != core.EFORBIDDEN:
		h.fail(w, r, err)
		return
	}
	d.Values = map[string]string{
		"name":     u.Name,
		"phone":    core.FormatPhone(u.Phone),
		"language": u.Language,
		"timezone": u.Timezone,
		"note":     u.Note,
		"email":    "",
	}
	status := http.StatusOK
	if failed != nil {
		v.Flash = ""
		status = h.applyError(ctx, w, v, failed)
		for k := range d.Values {
			if form.Has(k) {
				d.Values[k] = form.Get(k)
			}
		}
		v.Form = form
	} else if r.URL.Query().Get("done") == "email_sent" && p.PendingEmail != "" {
		v.Flash = l.T("web.flash.email_sent", map[string]any{"Email": p.PendingEmail})
	}
	v.Data = d
	h.render(w, r, status, "profile", v)
}

// auditKey is the message key naming an audited action.
func auditKey(a core.AuditAction) string {
	switch a {
	case core.AuditEmailChangeRequested:
		return i18n.Key("web.audit.email_change_requested")
	case core.AuditEmailChangeCancelled:
		return i18n.Key("web.audit.email_change_cancelled")
	case core.AuditEmailChanged:
		return i18n.Key("web.audit.email_changed")
	case core.AuditEmailChangeUndone:
		return i18n.Key("web.audit.email_change_undone")
	case core.AuditPasswordChanged:
		return i18n.Key("web.audit.password_changed")
	case core.AuditPasswordResetSent:
		return i18n.Key("web.audit.password_reset_sent")
	case core.AuditPasswordReset:
		return i18n.Key("web.audit.password_reset")
	case core.AuditReauthFailed:
		return i18n.Key("web.audit.password_check_failed")
	case core.AuditNoteChanged:
		return i18n.Key("web.audit.note_changed")
	case core.AuditAccessChanged:
		return i18n.Key("web.audit.access_changed")
	case core.AuditUserDeactivated:
		return i18n.Key("web.audit.user_deactivated")
	case core.AuditUserReactivated:
		return i18n.Key("web.audit.user_reactivated")
	case core.AuditUserRemoved:
		return i18n.Key("web.audit.user_removed")
	case core.AuditInviteSent:
		return i18n.Key("web.audit.invite_sent")
	case core.AuditInviteRevoked:
		return i18n.Key("web.audit.invite_revoked")
	case core.AuditInviteAccepted:
		return i18n.Key("web.audit.invite_accepted")
	case core.AuditTokenCreated:
		return i18n.Key("web.audit.token_created")
	case core.AuditTokenRevoked:
		return i18n.Key("web.audit.token_revoked")
	case core.AuditTwoFactorEnabled:
		return i18n.Key("web.audit.two_factor_enabled")
	case core.AuditTwoFactorDisabled:
		return i18n.Key("web.audit.two_factor_disabled")
	case core.AuditTwoFactorReset:
		return i18n.Key("web.audit.two_factor_reset")
	case core.AuditBackupCodeUsed:
		return i18n.Key("web.audit.backup_code_used")
	case core.AuditBackupCodesRenewed:
		return i18n.Key("web.audit.backup_codes_renewed")
	case core.AuditSignIn:
		return i18n.Key("web.audit.sign_in")
	case core.AuditSignInSecondStepFail:
		return i18n.Key("web.audit.sign_in_second_step_failed")
	case core.AuditSignInFailed:
		return i18n.Key("web.audit.sign_in_failed")
	case core.AuditSessionRevoked:
		return i18n.Key("web.audit.session_revoked")
	case core.AuditRequireTwoFactor:
		return i18n.Key("web.audit.require_two_factor")
	case core.AuditAllowlistChanged:
		return i18n.Key("web.audit.ip_allowlist")
	case core.AuditNotifyDefaults:
		return i18n.Key("web.audit.notification_defaults")
	}
	return i18n.Key("web.audit.other")
}

// auditDetailKeys name the codes the domain records as an entry's detail:
// how a sign-in completed or why it was refused, which method was turned
// on or off, what a failed check was.
var auditDetailKeys = map[string]string{
	"password":                    i18n.Key("web.audit.detail_password"),
	string(core.MethodTOTP):       i18n.Key("web.audit.detail_totp"),
	string(core.MethodEmail):      i18n.Key("web.audit.detail_email"),
	string(core.MethodBackupCode): i18n.Key("web.audit.detail_backup_code"),
	"code":                        i18n.Key("web.audit.detail_code"),
	"invite":                      i18n.Key("web.audit.detail_invite"),
	"setup":                       i18n.Key("web.audit.detail_setup"),
	"ip_not_allowed":              i18n.Key("web.audit.detail_ip_not_allowed"),
}

// auditDetail shows an entry's detail in the reader's language: the codes
// the domain records (see auditDetailKeys, "all others", "on"/"off", a
// role and rights) are translated; free text (an address, a token or
// device name, an allowlist) is shown as recorded. The CSV export and the
// API keep the recorded codes: they are for machines.
func auditDetail(l *i18n.Localizer, e *core.AuditEntry) string {
	switch e.Action {
	case core.AuditSignIn, core.AuditSignInFailed, core.AuditTwoFactorEnabled, core.AuditTwoFactorDisabled, core.AuditReauthFailed:
		if k, ok := auditDetailKeys[e.Detail]; ok {
			return l.T(k)
		}
	case core.AuditSessionRevoked:
		if e.Detail == "all others" {
			return l.T(i18n.Key("web.audit.detail_all_others"))
		}
	case core.AuditRequireTwoFactor:
		switch e.Detail {
		case "on":
			return l.T(i18n.Key("web.audit.detail_require_on"))
		case "off":
			return l.T(i18n.Key("web.audit.detail_require_off"))
		}
	case core.AuditAccessChanged, core.AuditInviteSent:
		// "user (profile-access)", or "before → after" for a change.
		parts := strings.Split(e.Detail, " → ")
		for i, p := range parts {
			t, ok := accessText(l, p)
			if !ok {
				return e.Detail
			}
			parts[i] = t
		}
		return strings.Join(parts, " → ")
	}
	return e.Detail
}

// accessText translates a role and rights as the audit log records them
// ("user (profile-access)"); ok is false for anything else.
func accessText(l *i18n.Localizer, s string) (string, bool) {
	role, rest, hasRights := strings.Cut(s, " (")
	if role != string(core.RoleAdmin) && role != string(core.RoleUser) {
		return "", false
	}
	out := l.T(roleKey(core.Role(role)))
	if !hasRights {
		return out, true
	}
	list, ok := strings.CutSuffix(rest, ")")
	if !ok {
		return "", false
	}
	rights := strings.Split(list, ", ")
	for i, r := range rights {
		if !slices.Contains(core.AllRights, core.Right(r)) {
			return "", false
		}
		rights[i] = l.T(rightKey(core.Right(r)))
	}
	return out + " (" + strings.Join(rights, ", ") + ")", true
}

// profileFailed shows a refused change: on the profile page again when
// the person may fix it there, else as an error page.
func (h *Handler) profileFailed(w http.ResponseWriter, r *http.Request, id int64, err error, form url.Values) {
	switch core.ErrorCode(err) {
	case core.EINVALID, core.ECONFLICT, core.ETOOMANY:
		h.renderProfile(w, r, id, err, form)
	default:
		h.fail(w, r, err)
	}
}

// formField returns a pointer to a submitted field, or nil when the form
// did not send it, so a partial form leaves the other fields alone.
func formField(f url.Values, name string) *string {
	if !f.Has(name) {
		return nil
	}
	s := f.Get(name)
	return &s
}

// saveProfile applies the main form: language, name, phone, time zone and
// note, all or nothing. The redirect re-reads the user, so a new language
// shows at once.
func (h *Handler) saveProfile(w http.ResponseWriter, r *http.Request) {
	me := principalFrom(r.Context()).User
	id, base, ok := h.profileTarget(w, r)
	if !ok {
		return
	}
	if !h.parseForm(w, r) {
		return
	}
	f := r.PostForm
	c := profile.Changes{
		Name:     formField(f, "name"),
		Phone:    formField(f, "phone"),
		Language: formField(f, "language"),
		Timezone: formField(f, "timezone"),
		Note:     formField(f, "note"),
	}
	if _, err := h.deps.Profiles.Update(r.Context(), me, id, c, clientIP(r)); err != nil {
		h.profileFailed(w, r, id, err, f)
		return
	}
	redirect(w, r, base+"?done=saved")
}

// errPhotoTooLarge is the domain's too-large message for a request body
// cut off by photoBodyLimit.
func errPhotoTooLarge(cause error) error {
	return &core.Error{Code: core.EINVALID, Key: "errors.invalid", Err: cause, Fields: []core.FieldError{
		{Field: photo.Field, Key: photo.KeyTooLarge, Data: map[string]any{"Count": photo.MaxUploadBytes >> 20}},
	}}
}

// uploadPhoto takes the multipart photo form. With JavaScript, picking a
// file submits it at once; without, the Upload button does.
func (h *Handler) uploadPhoto(w http.ResponseWriter, r *http.Request) {
	me := principalFrom(r.Context()).User
	id, base, ok := h.profileTarget(w, r)
	if !ok {
		return
	}
	// Only a multipart form carries a file: anything else is 415 naming the
	// accepted image types, as the API's photo routes answer, before the
	// body is read.
	if mt, _, err := mime.ParseMediaType(r.Header.Get("Content-Type")); err != nil || mt != "multipart/form-data" {
		h.errorPage(w, r, http.StatusUnsupportedMediaType, photo.KeyUnsupported)
		return
	}
	r.Body = http.MaxBytesReader(w, r.Body, photoBodyLimit)
	if err := r.ParseMultipartForm(photoFormMemory); err != nil {
		if _, ok := errors.AsType[*http.MaxBytesError](err); ok {
			h.profileFailed(w, r, id, errPhotoTooLarge(err), nil)
			return
		}
		h.errorPage(w, r, http.StatusBadRequest, "errors.bad_request")
		return
	}
	defer func() { _ = r.MultipartForm.RemoveAll() }()
	var upload io.Reader = strings.NewReader("") // no file: the domain says it is empty
	file, _, err := r.FormFile(photo.Field)
	switch {
	case err == nil:
		defer file.Close()
		upload = file
	case !errors.Is(err, http.ErrMissingFile):
		h.errorPage(w, r, http.StatusBadRequest, "errors.bad_request")
		return
	}
	if _, err := h.deps.Profiles.SetPhoto(r.Context(), me, id, upload); err != nil {
		if _, ok := errors.AsType[*http.MaxBytesError](err); ok {
			err = errPhotoTooLarge(err)
		}
		h.profileFailed(w, r, id, err, nil)
		return
	}
	redirect(w, r, base+"?done=photo_saved")
}

func (h *Handler) removePhoto(w http.ResponseWriter, r *http.Request) {
	me := principalFrom(r.Context()).User
	id, base, ok := h.profileTarget(w, r)
	if !ok {
		return
	}
	if _, err := h.deps.Profiles.RemovePhoto(r.Context(), me, id); err != nil {
		h.profileFailed(w, r, id, err, nil)
		return
	}
	redirect(w, r, base+"?done=photo_removed")
}

// servePhoto streams one size of a user's current photo to people of the
// same workspace. The URL carries the version, so it is cached for good.
func (h *Handler) servePhoto(w http.ResponseWriter, r *http.Request) {
	me := principalFrom(r.Context()).User
	id, err1 := strconv.ParseInt(r.PathValue("id"), 10, 64)
	version, err2 := strconv.ParseInt(r.PathValue("version"), 10, 64)
	size, err3 := strconv.Atoi(r.PathValue("size"))
	if err1 != nil || err2 != nil || err3 != nil || !slices.Contains(photo.Sizes, size) {
		h.fail(w, r, core.ErrNotFound)
		return
	}
	// Someone held on the two-step setup page sees only their own photo
	// (the layout's avatar); everyone else's goes through the full gate.
	if id != me.ID && !h.gate(w, r, me, false) {
		return
	}
	if _, err := h.deps.Profiles.ServePhoto(r.Context(), me, id, version); err != nil {
		h.fail(w, r, err)
		return
	}
	h.deps.Profiles.Photos().ServePhoto(w, r, id, version, size)
}

// requestEmailChange sends a confirmation link to a new address; the
// address changes only when the link is opened.
func (h *Handler) requestEmailChange(w http.ResponseWriter, r *http.Request) {
	me := principalFrom(r.Context()).User
	id, base, ok := h.profileTarget(w, r)
	if !ok {
		return
	}
	if !h.parseForm(w, r) {
		return
	}
	if _, err := h.deps.Profiles.RequestEmailChange(r.Context(), me, id, r.PostForm.Get("email"), clientIP(r)); err != nil {
		h.profileFailed(w, r, id, err, r.PostForm)
		return
	}
	redirect(w, r, base+"?done=email_sent")
}

// cancelEmailChange drops a pending change. Nothing pending (cancelled in
// another tab, or confirmed meanwhile) counts as done.
func (h *Handler) cancelEmailChange(w http.ResponseWriter, r *http.Request) {
	me := principalFrom(r.Context()).User
	id, base, ok := h.profileTarget(w, r)
	if !ok {
		return
	}
	if _, err := h.deps.Profiles.CancelEmailChange(r.Context(), me, id, clientIP(r)); err != nil && !errors.Is(err, profile.ErrNoEmailChange) {
		h.profileFailed(w, r, id, err, nil)
		return
	}
	redirect(w, r, base+"?done=email_cancelled")
}

// changePassword sets the signed-in person's own password. The session in
// the principal tells whether they signed in recently enough to skip the
// current password.
func (h *Handler) changePassword(w http.ResponseWriter, r *http.Request) {
	p := principalFrom(r.Context())
	if !h.parseForm(w, r) {
		return
	}
	err := h.deps.Profiles.ChangePassword(r.Context(), p, profile.PasswordChange{
		Current: r.PostForm.Get("current_password"),
		New:     r.PostForm.Get("new_password"),
		IP:      clientIP(r),
	})
	if err != nil {
		h.profileFailed(w, r, p.User.ID, err, formWithout(r.PostForm, "current_password", "new_password"))
		return
	}
	redirect(w, r, profileURL+"?done=password_changed")
}

// sendPasswordReset mails a user a link to set a new password: what an
// admin does instead of choosing someone's password.
func (h *Handler) sendPasswordReset(w http.ResponseWriter, r *http.Request) {
	me := principalFrom(r.Context()).User
	id, base, ok := h.profileTarget(w, r)
	if !ok {
		return
	}
	if err := h.deps.Profiles.SendPasswordReset(r.Context(), me, id, clientIP(r)); err != nil {
		h.profileFailed(w, r, id, err, nil)
		return
	}
	redirect(w, r, base+"?done=reset_sent")
}

type emailConfirmedData struct {
	Email    string
	SignedIn bool
}

// confirmEmail applies an email change when its link is opened, as the
// mail promises; the link works once.
func (h *Handler) confirmEmail(w http.ResponseWriter, r *http.Request) {
	r, p := h.withOptionalPrincipal(r)
	u, err := h.deps.Profiles.ConfirmEmailChange(r.Context(), r.PathValue("token"), clientIP(r))
	if err != nil {
		h.fail(w, r, err)
		return
	}
	v := h.pageFor(r, i18n.Key("web.email_confirmed.title"))
	if p == nil {
		h.speak(v, u.Language, "web.email_confirmed.title")
	}
	v.Data = emailConfirmedData{Email: u.Email, SignedIn: p != nil}
	h.render(w, r, http.StatusOK, "email_confirmed", v)
}

type emailUndoData struct {
	Token, Email string
	Done         bool
}

// undoEmailForm asks before putting an old address back: a GET must not
// sign anyone out (mail scanners open links).
func (h *Handler) undoEmailForm(w http.ResponseWriter, r *http.Request) {
	if err := h.deps.Profiles.EmailUndoUsable(r.Context(), r.PathValue("token")); err != nil {
		h.fail(w, r, err)
		return
	}
	v := h.pageFor(r, i18n.Key("web.email_undo.title"))
	v.Data = emailUndoData{Token: r.PathValue("token")}
	h.render(w, r, http.StatusOK, "email_undo", v)
}

// undoEmail puts the old address back and signs the user out everywhere.
func (h *Handler) undoEmail(w http.ResponseWriter, r *http.Request) {
	u, err := h.deps.Profiles.UndoEmailChange(r.Context(), r.PathValue("token"), clientIP(r))
	if err != nil {
		h.fail(w, r, err)
		return
	}
	h.clearCookie(w)
	v := h.pageFor(r, i18n.Key("web.email_undo.title"))
	h.speak(v, u.Language, "web.email_undo.title")
	v.Data = emailUndoData{Email: u.Email, Done: true}
	h.render(w, r, http.StatusOK, "email_undo", v)
}

// speak switches a public page to lang, when supported: pages opened from
// a mail link speak the language of the person the mail was for.
func (h *Handler) speak(v *view, lang, title string) {
	if i18n.IsSupported(lang) {
		v.Lang = lang
		v.Title = h.loc(lang).T(title)
	}
}

type resetData struct {
	Email  string
	Action string
}

func (h *Handler) resetView(r *http.Request, u *core.User) *view {
	v := h.pageFor(r, i18n.Key("web.reset.title"))
	if principalFrom(r.Context()) == nil {
		h.speak(v, u.Language, "web.reset.title")
	}
	v.Data = resetData{Email: u.Email, Action: "/password/reset/" + url.PathEscape(r.PathValue("token"))}
	return v
}

// resetForm shows the form behind a password reset link.
func (h *Handler) resetForm(w http.ResponseWriter, r *http.Request) {
	r, _ = h.withOptionalPrincipal(r)
	u, err := h.deps.Profiles.OpenPasswordReset(r.Context(), r.PathValue("token"))
	if err != nil {
		h.fail(w, r, err)
		return
	}
	h.render(w, r, http.StatusOK, "password_reset", h.resetView(r, u))
}

// resetSubmit sets the new password; every session of the user ends, so
// the person signs in again with it.
func (h *Handler) resetSubmit(w http.ResponseWriter, r *http.Request) {
	r, _ = h.withOptionalPrincipal(r)
	if !h.parseForm(w, r) {
		return
	}
	token := r.PathValue("token")
	u, err := h.deps.Profiles.OpenPasswordReset(r.Context(), token)
	if err != nil {
		h.fail(w, r, err)
		return
	}
	pw := r.PostForm.Get("new_password")
	if pw != r.PostForm.Get("confirm_password") {
		var v core.Invalid
		if key, data := auth.CheckPassword(pw, u.Email); key != "" {
			v.Add("new_password", key, data)
		}
		v.Add("confirm_password", i18n.Key("web.reset.mismatch"), nil)
		err = v.Err()
	} else {
		_, err = h.deps.Profiles.ResetPassword(r.Context(), token, pw, clientIP(r))
	}
	if err != nil {
		if core.ErrorCode(err) == core.ENOTFOUND {
			h.fail(w, r, err)
			return
		}
		v := h.resetView(r, u)
		h.render(w, r, h.applyError(r.Context(), w, v, err), "password_reset", v)
		return
	}
	redirect(w, r, "/login?done=password_reset")
}
