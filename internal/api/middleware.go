package api

import (
	"context"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/danielgtaylor/huma/v2"
	"github.com/danielgtaylor/huma/v2/adapters/humago"

	"roster/internal/auth"
	"roster/internal/core"
	"roster/internal/httpx"
	"roster/internal/i18n"
	"roster/internal/security"
)

// state is what the wrapper learned about a request; handlers and the error
// constructor read it from the context.
type state struct {
	loc       *i18n.Localizer
	principal *auth.Principal // nil for anonymous operations
	viaCookie bool            // authenticated by the session cookie
	// credential is the token or cookie value the caller authenticated
	// with: a long stream checks it again as it goes.
	credential string
	ip         string
	userAgent  string
}

type stateKey struct{}

func stateFrom(ctx context.Context) *state {
	st, _ := ctx.Value(stateKey{}).(*state)
	return st
}

// newState starts a request's state with the language of Accept-Language,
// falling back to the default workspace's language.
func (a *API) newState(r *http.Request) *state {
	lang := a.anonymousLang(r)
	return &state{
		loc:       a.deps.I18n.Localizer(lang),
		ip:        clientIP(r),
		userAgent: r.UserAgent(),
	}
}

// clientIP is the address httpx.ClientIP resolved, or the direct peer when
// that middleware is not in the chain (tests).
func clientIP(r *http.Request) string { return httpx.RequestIP(r) }

// wrap runs before huma's handler for op: language, authentication (when op
// declares security), the rate limit, and cross-origin checks for cookie
// callers.
func (a *API) wrap(op *huma.Operation, next func(huma.Context)) http.Handler {
	needsAuth := len(op.Security) > 0
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		// A signed-in caller is answered in their own language: the
		// anonymous one (which reads the default workspace) is worked out
		// only for others.
		st := &state{ip: clientIP(r), userAgent: r.UserAgent()}
		if !needsAuth {
			st = a.newState(r)
		}
		// Answers carry tokens and personal data: keep them out of caches.
		w.Header().Set("Cache-Control", "no-store")
		ctx := context.WithValue(r.Context(), stateKey{}, st)
		r = r.WithContext(ctx)

		limitKey := "ip:" + st.ip
		if needsAuth {
			p, viaCookie, err := a.authenticate(r, st.ip)
			if err != nil {
				st.loc = a.newState(r).loc
				// Failed attempts count against the client's address.
				if ok, wait := a.limiter.Allow(limitKey); !ok {
					writeProblem(w, rateLimited(st.loc, wait))
					return
				}
				if core.ErrorCode(err) == core.EUNAUTHORIZED {
					writeProblem(w, unauthorized(st.loc))
				} else {
					// The database out of reach is 503, not 500, and not
					// 401: the credential may be fine.
					writeProblem(w, a.fail(ctx, err))
				}
				return
			}
			st.principal, st.viaCookie, st.credential = p, viaCookie, credentialOf(r)
			st.loc = a.deps.I18n.Localizer(p.User.Language)
			if p.Token != nil {
				limitKey = "token:" + strconv.FormatInt(p.Token.ID, 10)
			} else {
				limitKey = "session:" + strconv.FormatInt(p.Session.ID, 10)
			}
		}
		if ok, wait := a.limiter.Allow(limitKey); !ok {
			writeProblem(w, rateLimited(st.loc, wait))
			return
		}
		// A browser sends the cookie on cross-site requests too; bearer
		// tokens are never sent implicitly, so only cookie callers need this.
		if st.viaCookie {
			if err := a.csrf.Check(r); err != nil {
				writeProblem(w, problem(st.loc, http.StatusForbidden, keyCrossOrigin, nil))
				return
			}
		}
		// The workspace's policy: the IP allowlist, then mandatory two-step
		// verification, which leaves the caller only what explains it.
		if st.principal != nil {
			if err := a.gate(ctx, st.principal.User, op.Metadata[metaOpenWithoutTwoFactor] == true); err != nil {
				writeProblem(w, err)
				return
			}
		}
		// Turning two-step verification on or off needs the browser's
		// session cookie: a bearer token, even one of a web session, is
		// refused before the body is read.
		if op.Metadata[metaWebOnly] == true && !st.viaCookie {
			writeProblem(w, a.fail(ctx, security.ErrWebOnly))
			return
		}
		if !a.refuseDuplicateKeys(w, r, op, st) {
			return
		}
		next(humago.NewContext(op, r, keepDeadlines{w}))
	})
}

// keepDeadlines keeps huma from setting the connection's read deadline
// (its 5 s default as it reads a body, never lifted): the server's
// per-route deadlines (httpx.Deadlines) rule, and lift theirs once the
// body is read, so a handler that takes long (a sign-in waiting for the
// password hasher) is not cancelled by a deadline passing under it.
type keepDeadlines struct{ http.ResponseWriter }

func (keepDeadlines) SetReadDeadline(time.Time) error { return nil }

// Unwrap gives http.ResponseController the writer beneath, for the rest.
func (k keepDeadlines) Unwrap() http.ResponseWriter { return k.ResponseWriter }

// metaWebOnly marks operations open only to the web app's session cookie.
const metaWebOnly = "roster.webOnly"

// metaOpenWithoutTwoFactor marks the few operations a user may call while
// their workspace requires two-step verification and theirs is off: enough
// to learn who they are, their status and to sign out.
const metaOpenWithoutTwoFactor = "roster.openWithoutTwoFactor"

// gate applies the workspace's security policy to user calling from the
// request's IP and returns the problem to answer, or nil.
func (a *API) gate(ctx context.Context, user *core.User, twoFactorExempt bool) error {
	st := stateFrom(ctx)
	g, err := a.deps.Security.Check(ctx, user, st.ip)
	if err != nil {
		// Never let a failed read open the gate, nor pass for a refusal:
		// 503 when the database is away, else 500.
		return a.fail(ctx, fmt.Errorf("api: security policy: %w", err))
	}
	switch {
	case g == security.GateIPRefused:
		return a.fail(ctx, errIPNotAllowed)
	case g == security.GateNeedsTwoFactor && !twoFactorExempt:
		return a.fail(ctx, errTwoFactorRequired)
	}
	return nil
}

// authenticate resolves the bearer token, or else the session cookie.
func (a *API) authenticate(r *http.Request, ip string) (*auth.Principal, bool, error) {
	if h := r.Header.Get("Authorization"); h != "" {
		scheme, token, ok := strings.Cut(strings.TrimSpace(h), " ")
		if !ok || !strings.EqualFold(scheme, "Bearer") {
			return nil, false, core.ErrUnauthorized
		}
		p, err := a.deps.Auth.Authenticate(r.Context(), strings.TrimSpace(token), ip)
		return p, false, err
	}
	c, err := r.Cookie(auth.CookieName)
	if err != nil || c.Value == "" {
		return nil, false, core.ErrUnauthorized
	}
	if auth.IsAPIToken(c.Value) {
		// API tokens belong in the Authorization header only.
		return nil, false, core.ErrUnauthorized
	}
	p, err := a.deps.Auth.Authenticate(r.Context(), c.Value, ip)
	return p, true, err
}

// credentialOf is the bearer token, or else the session cookie's value.
func credentialOf(r *http.Request) string {
	if h := r.Header.Get("Authorization"); h != "" {
		_, token, _ := strings.Cut(strings.TrimSpace(h), " ")
		return strings.TrimSpace(token)
	}
	if c, err := r.Cookie(auth.CookieName); err == nil {
		return c.Value
	}
	return ""
}

// principal returns the caller of an authenticated operation.
func principal(ctx context.Context) *auth.Principal {
	if st := stateFrom(ctx); st != nil {
		return st.principal
	}
	return nil
}

// anonymousLang is the language for a caller not (yet) known: Accept-Language,
// else the default workspace's language, else English.
func (a *API) anonymousLang(r *http.Request) string {
	fallback := i18n.Fallback
	if ws, err := a.deps.Accounts.DefaultWorkspace(r.Context()); err == nil && ws != nil {
		fallback = ws.Language
	}
	return i18n.Negotiate(r.Header.Get("Accept-Language"), fallback)
}

// CrossOriginDenied answers a cross-origin browser request refused by the
// server-wide CSRF check with a problem+json body in the caller's language.
func (a *API) CrossOriginDenied() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		writeProblem(w, problem(a.deps.I18n.Localizer(a.anonymousLang(r)), http.StatusForbidden, keyCrossOrigin, nil))
	})
}
