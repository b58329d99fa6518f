package web

import (
	"context"
	"net/http"
	"net/url"
	"time"

	"roster/internal/auth"
	"roster/internal/core"
	"roster/internal/httpx"
	"roster/internal/security"
)

type principalKey struct{}

func withPrincipal(ctx context.Context, p *auth.Principal) context.Context {
	return context.WithValue(ctx, principalKey{}, p)
}

// principalFrom returns the signed-in principal put in the context by
// signedIn, or nil.
func principalFrom(ctx context.Context) *auth.Principal {
	p, _ := ctx.Value(principalKey{}).(*auth.Principal)
	return p
}

// authenticate resolves the session cookie, or returns nil. Only browser
// sessions count: an API token pasted into the cookie does not open pages.
func (h *Handler) authenticate(r *http.Request) *auth.Principal {
	p, err := h.session(r)
	if err != nil {
		httpx.LogError(r.Context(), h.logger(r.Context()), "authenticate session", err)
	}
	return p
}

// session is the request's web session: nil without a valid one, and an
// error only when it could not be told (the database out of reach), so
// that a signed-in person is not taken for signed out.
func (h *Handler) session(r *http.Request) (*auth.Principal, error) {
	c, err := r.Cookie(auth.CookieName)
	if err != nil || c.Value == "" || auth.IsAPIToken(c.Value) {
		return nil, nil
	}
	p, err := h.deps.Auth.Authenticate(r.Context(), c.Value, clientIP(r))
	if err != nil {
		if core.ErrorCode(err) == core.EUNAUTHORIZED {
			return nil, nil
		}
		return nil, err
	}
	if p.Session == nil || p.Session.Kind != core.SessionWeb {
		return nil, nil
	}
	return p, nil
}

// signedIn wraps a page that needs a signed-in person. Without a valid
// session a GET is redirected to the sign-in page (coming back afterwards)
// and anything else gets a 401 page. The workspace's policy applies to
// every such page: see gate.
func (h *Handler) signedIn(next http.HandlerFunc) http.Handler {
	return h.guard(next, false)
}

// twoFactorSetup wraps the pages a person must still reach while their
// workspace requires two-step verification and theirs is off: the
// security page where they turn it on, and photos for its layout.
func (h *Handler) twoFactorSetup(next http.HandlerFunc) http.Handler {
	return h.guard(next, true)
}

func (h *Handler) guard(next http.HandlerFunc, setupPage bool) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		p, err := h.session(r)
		if err != nil {
			// The session could not be checked: a 503 page, the cookie
			// kept (clearing it would sign the person out for good).
			h.fail(w, r, err)
			return
		}
		if p == nil {
			if _, err := r.Cookie(auth.CookieName); err == nil {
				h.clearCookie(w)
			}
			if r.Method == http.MethodGet || r.Method == http.MethodHead {
				redirectFound(w, r, "/login?next="+url.QueryEscape(r.URL.RequestURI()))
				return
			}
			h.errorPage(w, r, http.StatusUnauthorized, "errors.unauthorized")
			return
		}
		r = r.WithContext(withPrincipal(r.Context(), p))
		if !h.gate(w, r, p.User, setupPage) {
			return
		}
		next(w, r)
	})
}

// twoFactorRequiredURL is where a person without two-step verification is
// sent while their workspace requires it.
const twoFactorRequiredURL = "/settings/security?required=1"

// gate applies the workspace's security policy to a signed-in request:
// outside the IP allowlist it answers with the 403 page; without required
// two-step verification it sends the person to the setup page unless
// setupPage. It returns false when it answered the request. A policy that
// cannot be read refuses too: the allowlist must not fail open.
func (h *Handler) gate(w http.ResponseWriter, r *http.Request, u *core.User, setupPage bool) bool {
	g, err := h.deps.Security.Check(r.Context(), u, clientIP(r))
	if err != nil {
		h.fail(w, r, err)
		return false
	}
	switch g {
	case security.GateIPRefused:
		h.refuseIP(w, r, u)
		return false
	case security.GateNeedsTwoFactor:
		if setupPage {
			return true
		}
		if r.Method == http.MethodGet || r.Method == http.MethodHead {
			redirectFound(w, r, twoFactorRequiredURL)
		} else {
			redirect(w, r, twoFactorRequiredURL)
		}
		return false
	}
	return true
}

// admit finishes a sign-in that opened a session (password, second step
// or accepted invitation; the domain has applied the allowlist): a person
// who must still turn on two-step verification goes to its setup page,
// anyone else to next.
func (h *Handler) admit(w http.ResponseWriter, r *http.Request, res *auth.LoginResult, next string) {
	h.setSessionCookie(w, res)
	if res.SetupRequired {
		redirect(w, r, twoFactorRequiredURL)
		return
	}
	redirect(w, r, orDefault(next, profileURL))
}

// refuseIP answers with the translated 403 page of a refused address, in
// u's language.
func (h *Handler) refuseIP(w http.ResponseWriter, r *http.Request, u *core.User) {
	if principalFrom(r.Context()) == nil {
		r = r.WithContext(withPrincipal(r.Context(), &auth.Principal{User: u}))
	}
	h.errorPage(w, r, http.StatusForbidden, "errors.ip_not_allowed")
}

func redirectFound(w http.ResponseWriter, r *http.Request, to string) {
	http.Redirect(w, r, to, http.StatusFound)
}

// setSessionCookie stores a new session token in the browser.
func (h *Handler) setSessionCookie(w http.ResponseWriter, res *auth.LoginResult) {
	http.SetCookie(w, auth.SessionCookie(res.Token, res.Session.ExpiresAt, h.secure))
}

func (h *Handler) clearCookie(w http.ResponseWriter) {
	http.SetCookie(w, auth.SessionCookie("", time.Time{}, h.secure))
}
