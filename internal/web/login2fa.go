package web

import (
	"errors"
	"net/http"
	"net/url"
	"slices"
	"strings"

	"roster/internal/core"
	"roster/internal/i18n"
)

// The second step of sign-in: after a right password, users with two-step
// verification on get a page asking for a code. Only the challenge token
// travels in the form; the session cookie is set once the code is right.

type loginCodeData struct {
	Challenge string
	Next      string
	// Methods is the comma-separated list of usable methods. It travels in
	// a hidden field only to word the page again; the domain decides which
	// codes work.
	Methods   string
	TOTP      bool
	Email     bool
	Backup    bool
	EmailSent bool
}

// knownMethods keeps only method names the page knows, in a fixed order.
func knownMethods(list []core.TwoFactorMethod) []core.TwoFactorMethod {
	var out []core.TwoFactorMethod
	for _, m := range []core.TwoFactorMethod{core.MethodTOTP, core.MethodEmail, core.MethodBackupCode} {
		if slices.Contains(list, m) {
			out = append(out, m)
		}
	}
	return out
}

func newLoginCodeData(challenge, next string, methods []core.TwoFactorMethod, emailSent bool) *loginCodeData {
	methods = knownMethods(methods)
	names := make([]string, len(methods))
	for i, m := range methods {
		names[i] = string(m)
	}
	return &loginCodeData{
		Challenge: challenge,
		Next:      next,
		Methods:   strings.Join(names, ","),
		TOTP:      slices.Contains(methods, core.MethodTOTP),
		Email:     slices.Contains(methods, core.MethodEmail),
		Backup:    slices.Contains(methods, core.MethodBackupCode),
		EmailSent: emailSent,
	}
}

// loginCodeFromForm rebuilds the page data from a submitted code form.
func loginCodeFromForm(f url.Values) *loginCodeData {
	var methods []core.TwoFactorMethod
	for m := range strings.SplitSeq(f.Get("methods"), ",") {
		methods = append(methods, core.TwoFactorMethod(m))
	}
	return newLoginCodeData(f.Get("challenge"), safeNext(f.Get("next")), methods, false)
}

func (h *Handler) loginCodeView(r *http.Request, d *loginCodeData) *view {
	v := h.pageFor(r, i18n.Key("web.login_code.title"))
	v.Data = d
	return v
}

// challengeExpired sends the person back to the password page with a
// message, keeping where they were going.
func challengeExpired(w http.ResponseWriter, r *http.Request, next string) {
	q := url.Values{"expired": {"1"}}
	if next != "" {
		q.Set("next", next)
	}
	redirect(w, r, "/login?"+q.Encode())
}

func isChallengeError(err error) bool {
	e := core.AsError(err)
	return e != nil && e.Key == "errors.challenge_invalid"
}

// loginVerify completes a sign-in with a code from the app, the email or a
// backup code.
func (h *Handler) loginVerify(w http.ResponseWriter, r *http.Request) {
	if !h.parseForm(w, r) {
		return
	}
	d := loginCodeFromForm(r.PostForm)
	res, err := h.deps.Security.VerifyLogin(r.Context(), d.Challenge, r.PostForm.Get("code"), clientIP(r))
	if err != nil {
		if errors.Is(err, core.ErrIPNotAllowed) {
			h.errorPage(w, r, http.StatusForbidden, core.ErrIPNotAllowed.Key)
			return
		}
		if isChallengeError(err) {
			challengeExpired(w, r, d.Next)
			return
		}
		v := h.loginCodeView(r, d)
		h.render(w, r, h.applyError(r.Context(), w, v, err), "login_code", v)
		return
	}
	h.admit(w, r, res.LoginResult, d.Next)
}

// loginResend mails a new sign-in code, at most once a minute.
func (h *Handler) loginResend(w http.ResponseWriter, r *http.Request) {
	if !h.parseForm(w, r) {
		return
	}
	d := loginCodeFromForm(r.PostForm)
	err := h.deps.Security.ResendEmailCode(r.Context(), d.Challenge)
	if err != nil && isChallengeError(err) {
		challengeExpired(w, r, d.Next)
		return
	}
	v := h.loginCodeView(r, d)
	status := http.StatusOK
	if err != nil {
		status = h.applyError(r.Context(), w, v, err)
	} else {
		d.EmailSent = true
		v.Flash = h.loc(v.Lang).T("web.login_code.resent")
	}
	h.render(w, r, status, "login_code", v)
}
