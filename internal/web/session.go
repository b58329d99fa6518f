package web

import (
	"context"
	"net/http"
	"net/url"

	"roster/internal/auth"
	"roster/internal/core"
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
	c, err := r.Cookie(auth.CookieName)
	if err != nil || c.Value == "" || auth.IsAPIToken(c.Value) {
		return nil
	}
	p, err := h.deps.Auth.Authenticate(r.Context(), c.Value, clientIP(r))
	if err != nil {
		if core.ErrorCode(err) != core.EUNAUTHORIZED {
			h.logger(r.Context()).Error("authenticate session", "err", err)
		}
		return nil
	}
	if p.Session == nil || p.Session.Kind != core.SessionWeb {
		return nil
	}
	return p
}

// signedIn wraps a page that needs a signed-in person. Without a valid
// session a GET is redirected to the sign-in page (coming back afterwards)
// and anything else gets a 401 page.
func (h *Handler) signedIn(next http.HandlerFunc) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		p := h.authenticate(r)
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
		next(w, r.WithContext(withPrincipal(r.Context(), p)))
	})
}

func redirectFound(w http.ResponseWriter, r *http.Request, to string) {
	http.Redirect(w, r, to, http.StatusFound)
}

// setSessionCookie stores a new session token in the browser.
func (h *Handler) setSessionCookie(w http.ResponseWriter, res *auth.LoginResult) {
	http.SetCookie(w, &http.Cookie{
		Name:     auth.CookieName,
		Value:    res.Token,
		Path:     "/",
		Expires:  res.Session.ExpiresAt,
		HttpOnly: true,
		Secure:   h.secure,
		SameSite: http.SameSiteLaxMode,
	})
}

func (h *Handler) clearCookie(w http.ResponseWriter) {
	http.SetCookie(w, &http.Cookie{
		Name:     auth.CookieName,
		Value:    "",
		Path:     "/",
		MaxAge:   -1,
		HttpOnly: true,
		Secure:   h.secure,
		SameSite: http.SameSiteLaxMode,
	})
}
