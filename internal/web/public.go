package web

import (
	"errors"
	"net/http"
	"net/url"

	"roster/internal/account"
	"roster/internal/auth"
	"roster/internal/core"
	"roster/internal/httpx"
	"roster/internal/i18n"
)

// profileURL is where a signed-in person lands.
const profileURL = "/settings/profile"

// index sends people to setup, their profile or the sign-in page.
func (h *Handler) index(w http.ResponseWriter, r *http.Request) {
	need, err := h.deps.Accounts.NeedsSetup(r.Context())
	if err != nil {
		h.fail(w, r, err)
		return
	}
	switch {
	case need:
		redirectFound(w, r, "/setup")
	case h.authenticate(r) != nil:
		redirectFound(w, r, profileURL)
	default:
		redirectFound(w, r, "/login")
	}
}

// withOptionalPrincipal adds the signed-in principal, if any, to r so the
// public pages speak the person's language.
func (h *Handler) withOptionalPrincipal(r *http.Request) (*http.Request, *auth.Principal) {
	p := h.authenticate(r)
	if p == nil {
		return r, nil
	}
	return r.WithContext(withPrincipal(r.Context(), p)), p
}

type setupData struct {
	Timezone, Language, Country string
	// TimezoneChosen is true once the person picked a zone (a refused form
	// shows it again): the page's script then leaves it alone instead of
	// selecting the browser's zone (data-browser-timezone).
	TimezoneChosen bool
}

func (h *Handler) setupView(r *http.Request) *view {
	v := h.pageFor(r, i18n.Key("web.setup.title"))
	v.Data = setupData{Timezone: "UTC", Language: v.Lang, Country: defaultCountry(r.Header.Get("Accept-Language"), v.Lang)}
	return v
}

// setupAllowed redirects to the sign-in page once a workspace exists.
func (h *Handler) setupAllowed(w http.ResponseWriter, r *http.Request) bool {
	need, err := h.deps.Accounts.NeedsSetup(r.Context())
	if err != nil {
		h.fail(w, r, err)
		return false
	}
	if !need {
		redirect(w, r, "/login")
		return false
	}
	return true
}

func (h *Handler) setupForm(w http.ResponseWriter, r *http.Request) {
	if !h.setupAllowed(w, r) {
		return
	}
	h.render(w, r, http.StatusOK, "setup", h.setupView(r))
}

func (h *Handler) setupSubmit(w http.ResponseWriter, r *http.Request) {
	if !h.setupAllowed(w, r) {
		return
	}
	if !h.parseForm(w, r) {
		return
	}
	res, err := h.deps.Accounts.Setup(r.Context(), account.SetupInput{
		Workspace: r.PostForm.Get("workspace"),
		Timezone:  r.PostForm.Get("timezone"),
		Language:  r.PostForm.Get("language"),
		Country:   r.PostForm.Get("country"),
		Name:      r.PostForm.Get("name"),
		Email:     r.PostForm.Get("email"),
		Password:  r.PostForm.Get("password"),
		IP:        clientIP(r),
		Device:    httpx.DeviceName(r.UserAgent()),
	})
	if err != nil {
		if e := core.AsError(err); e != nil && e.Key == "errors.setup_done" {
			redirect(w, r, "/login")
			return
		}
		v := h.setupView(r)
		v.Form = formWithout(r.PostForm, "password")
		v.Data = setupData{Timezone: r.PostForm.Get("timezone"), Language: r.PostForm.Get("language"), Country: r.PostForm.Get("country"),
			TimezoneChosen: r.PostForm.Get("timezone") != ""}
		h.render(w, r, h.applyError(r.Context(), w, v, err), "setup", v)
		return
	}
	h.setSessionCookie(w, res)
	redirect(w, r, profileURL)
}

// formWithout copies submitted values except secrets, which are never sent
// back to the browser.
func formWithout(f url.Values, drop ...string) url.Values {
	out := url.Values{}
	for k, v := range f {
		out[k] = v
	}
	for _, k := range drop {
		delete(out, k)
	}
	return out
}

type loginData struct{ Next string }

func (h *Handler) loginForm(w http.ResponseWriter, r *http.Request) {
	next := safeNext(r.URL.Query().Get("next"))
	r, p := h.withOptionalPrincipal(r)
	if p != nil {
		redirectFound(w, r, orDefault(next, profileURL))
		return
	}
	need, err := h.deps.Accounts.NeedsSetup(r.Context())
	if err != nil {
		h.fail(w, r, err)
		return
	}
	if need {
		redirectFound(w, r, "/setup")
		return
	}
	v := h.pageFor(r, i18n.Key("web.login.title"))
	v.Data = loginData{Next: next}
	if r.URL.Query().Get("done") == "password_reset" {
		v.Flash = h.loc(v.Lang).T("web.flash.password_reset")
	}
	if r.URL.Query().Get("expired") == "1" {
		v.Error = h.loc(v.Lang).T("errors.challenge_invalid")
	}
	h.render(w, r, http.StatusOK, "login", v)
}

func (h *Handler) loginSubmit(w http.ResponseWriter, r *http.Request) {
	if !h.parseForm(w, r) {
		return
	}
	next := safeNext(r.PostForm.Get("next"))
	res, err := h.deps.Security.SignIn(r.Context(), auth.LoginInput{
		Email:    r.PostForm.Get("email"),
		Password: r.PostForm.Get("password"),
		IP:       clientIP(r),
		Device:   httpx.DeviceName(r.UserAgent()),
		Kind:     core.SessionWeb,
	})
	if errors.Is(err, core.ErrIPNotAllowed) {
		h.errorPage(w, r, http.StatusForbidden, core.ErrIPNotAllowed.Key)
		return
	}
	if err != nil {
		v := h.pageFor(r, i18n.Key("web.login.title"))
		v.Form = formWithout(r.PostForm, "password")
		v.Data = loginData{Next: next}
		h.render(w, r, h.applyError(r.Context(), w, v, err), "login", v)
		return
	}
	if ch := res.Challenge; ch != nil {
		// No session exists yet: the second page asks for a code.
		d := newLoginCodeData(ch.Token, next, ch.Methods, ch.EmailSent)
		h.render(w, r, http.StatusOK, "login_code", h.loginCodeView(r, d))
		return
	}
	h.admit(w, r, res.LoginResult, next)
}

func orDefault(s, def string) string {
	if s == "" {
		return def
	}
	return s
}

// logout ends the current session, if any, and clears the cookie.
func (h *Handler) logout(w http.ResponseWriter, r *http.Request) {
	if p := h.authenticate(r); p != nil {
		if err := h.deps.Auth.Logout(r.Context(), p); err != nil {
			h.fail(w, r, err)
			return
		}
	}
	h.clearCookie(w)
	redirect(w, r, "/login")
}

type inviteData struct {
	Invite    *core.Invite
	Workspace *core.Workspace
	Language  string
	Timezone  string
	// TimezoneChosen: as in setupData.
	TimezoneChosen bool
}

// inviteView starts the accept page of an invitation, or answers with the
// translated 404 and ok false when the link cannot be used.
func (h *Handler) inviteView(w http.ResponseWriter, r *http.Request) (*view, bool) {
	inv, ws, err := h.deps.Accounts.OpenInvite(r.Context(), r.PathValue("token"))
	if err != nil {
		h.fail(w, r, err)
		return nil, false
	}
	v := h.pageFor(r, i18n.Key("web.invite.title"))
	if principalFrom(r.Context()) == nil {
		// The invitation's workspace knows its people's language better than
		// the installation default does.
		v.Lang = h.deps.I18n.Negotiate(r.Header.Get("Accept-Language"), ws.Language)
		v.Title = h.loc(v.Lang).T("web.invite.title")
	}
	// The form starts in the page's language; the zone is the workspace's
	// until the page's script selects the browser's.
	v.Data = inviteData{Invite: inv, Workspace: ws, Language: v.Lang, Timezone: ws.Timezone}
	return v, true
}

func (h *Handler) inviteForm(w http.ResponseWriter, r *http.Request) {
	v, ok := h.inviteView(w, r)
	if !ok {
		return
	}
	h.render(w, r, http.StatusOK, "invite", v)
}

func (h *Handler) inviteSubmit(w http.ResponseWriter, r *http.Request) {
	if !h.parseForm(w, r) {
		return
	}
	res, err := h.deps.Accounts.AcceptInvite(r.Context(), account.AcceptInput{
		Token:    r.PathValue("token"),
		Name:     r.PostForm.Get("name"),
		Password: r.PostForm.Get("password"),
		Language: r.PostForm.Get("language"),
		Timezone: r.PostForm.Get("timezone"),
		IP:       clientIP(r),
		Device:   httpx.DeviceName(r.UserAgent()),
	})
	if err != nil {
		if core.ErrorCode(err) == core.ENOTFOUND {
			h.fail(w, r, err)
			return
		}
		v, ok := h.inviteView(w, r)
		if !ok {
			return
		}
		v.Form = formWithout(r.PostForm, "password")
		d := v.Data.(inviteData)
		if lang := r.PostForm.Get("language"); i18n.IsSupported(lang) {
			d.Language = lang
		}
		if tz := r.PostForm.Get("timezone"); tz != "" {
			d.Timezone, d.TimezoneChosen = tz, true
		}
		v.Data = d
		h.render(w, r, h.applyError(r.Context(), w, v, err), "invite", v)
		return
	}
	h.admit(w, r, res, "")
}
