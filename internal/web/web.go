// Package web serves Roster's HTML pages: sign-in, setup, invitations and
// the settings area. Pages are rendered on the server with html/template
// from embedded files; every flow works without JavaScript, and the small
// script in static/app.js only adds comforts (copy buttons, confirmations).
//
// Pages never use inline script or style, so the strict Content Security
// Policy set by httpx.SecurityHeaders holds everywhere.
package web

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"html/template"
	"log/slog"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"roster/internal/account"
	"roster/internal/auth"
	"roster/internal/core"
	"roster/internal/httpx"
	"roster/internal/i18n"
	"roster/internal/notify"
	"roster/internal/notify/mobile"
	"roster/internal/profile"
	"roster/internal/security"
)

// Deps are the services the pages use.
type Deps struct {
	Accounts *account.Service
	Auth     *auth.Service
	Profiles *profile.Service
	Security *security.Service
	Notify   *notify.Service
	Devices  *mobile.Devices // the mobile app's devices, listed with the sessions
	I18n     *i18n.Bundle
	// BaseURL is the public URL; an https scheme makes cookies Secure.
	BaseURL *url.URL
	// DevOutbox is true when no SMTP server is configured: admins then get
	// a page listing the mails Roster would have sent.
	DevOutbox bool
	Logger    *slog.Logger
	// Telegram links chats for the Telegram channel; nil when the
	// operator has not configured it.
	Telegram TelegramLinks
	// Push lists and removes the browsers subscribed to push
	// notifications; PushKey is the server's VAPID public key, "" when
	// browser push is not configured.
	Push    PushSubscriptions
	PushKey string
}

// Handler serves the pages.
type Handler struct {
	deps    Deps
	secure  bool
	pages   atomic.Pointer[map[string]map[string]pageTemplate] // lang -> page -> template, filled by pagesFor
	navs    sync.Map                                           // navHTML's cache: lang and items → HTML
	pagesMu sync.Mutex                                         // held while a language is parsed
	static  *staticFiles
	// workerJS and manifest are built once, with the icons' hashed URLs.
	workerJS string
	manifest []byte
}

// New parses every template once for every language and hashes the static
// assets. It fails when a template does not parse or refers to a template
// that does not exist, so a broken page stops the server at start.
func New(d Deps) (*Handler, error) {
	if d.Accounts == nil || d.Auth == nil || d.Profiles == nil || d.Security == nil || d.Notify == nil || d.I18n == nil {
		return nil, errors.New("web: Accounts, Auth, Profiles, Security, Notify and I18n are required")
	}
	if d.Devices == nil {
		return nil, errors.New("web: Devices is required")
	}
	if d.Logger == nil {
		d.Logger = slog.Default()
	}
	h := &Handler{deps: d, secure: d.BaseURL != nil && d.BaseURL.Scheme == "https"}
	st, err := loadStatic()
	if err != nil {
		return nil, err
	}
	h.static = st
	h.workerJS = h.workerSource()
	if h.manifest, err = h.buildManifest(); err != nil {
		return nil, err
	}
	h.pages.Store(&map[string]map[string]pageTemplate{})
	if _, err := h.pagesFor(i18n.Fallback); err != nil {
		return nil, err
	}
	return h, nil
}

// Register adds every page route to mux.
func (h *Handler) Register(mux httpx.Router) {
	mux.HandleFunc("GET /{$}", h.index)
	mux.HandleFunc("GET /static/{name}", h.serveStatic)
	mux.HandleFunc("GET /sw.js", h.serveWorker)
	mux.HandleFunc("GET /manifest.webmanifest", h.serveManifest)

	mux.HandleFunc("GET /setup", h.setupForm)
	mux.HandleFunc("POST /setup", h.setupSubmit)
	mux.HandleFunc("GET /login", h.loginForm)
	mux.HandleFunc("POST /login", h.loginSubmit)
	mux.HandleFunc("POST /login/verify", h.loginVerify)
	mux.HandleFunc("POST /login/resend", h.loginResend)
	mux.HandleFunc("POST /logout", h.logout)
	mux.HandleFunc("GET /invite/{token}", h.inviteForm)
	mux.HandleFunc("POST /invite/{token}", h.inviteSubmit)

	mux.Handle("GET /settings", h.signedIn(h.settingsIndex))
	mux.Handle("GET /settings/{$}", h.signedIn(h.settingsIndex))
	mux.Handle("GET /settings/profile", h.signedIn(h.profilePage))
	mux.Handle("POST /settings/profile", h.signedIn(h.saveProfile))
	mux.Handle("POST /settings/profile/photo", h.signedIn(h.uploadPhoto))
	mux.Handle("POST /settings/profile/photo/delete", h.signedIn(h.removePhoto))
	mux.Handle("POST /settings/profile/email", h.signedIn(h.requestEmailChange))
	mux.Handle("POST /settings/profile/email/cancel", h.signedIn(h.cancelEmailChange))
	mux.Handle("POST /settings/profile/password", h.signedIn(h.changePassword))
	mux.Handle("GET /photos/{id}/{version}/{size}", h.twoFactorSetup(h.servePhoto))
	mux.HandleFunc("GET /email/confirm/{token}", h.confirmEmail)
	mux.HandleFunc("GET /unsubscribe/{token}", h.unsubscribeForm)
	mux.HandleFunc("POST /unsubscribe/{token}", h.unsubscribe)
	mux.HandleFunc("GET /email/undo/{token}", h.undoEmailForm)
	mux.HandleFunc("POST /email/undo/{token}", h.undoEmail)
	mux.HandleFunc("GET /password/reset/{token}", h.resetForm)
	mux.HandleFunc("POST /password/reset/{token}", h.resetSubmit)
	mux.Handle("GET /settings/security", h.twoFactorSetup(h.security))
	mux.Handle("POST /settings/security/totp", h.twoFactorSetup(h.startTOTP))
	mux.Handle("POST /settings/security/totp/confirm", h.twoFactorSetup(h.confirmTOTP))
	mux.Handle("POST /settings/security/email", h.twoFactorSetup(h.startEmail))
	mux.Handle("POST /settings/security/email/confirm", h.twoFactorSetup(h.confirmEmail2FA))
	mux.Handle("POST /settings/security/{method}/disable", h.twoFactorSetup(h.disableMethod))
	mux.Handle("POST /settings/security/{method}/cancel", h.twoFactorSetup(h.cancelSetup))
	mux.Handle("POST /settings/security/backup-codes", h.twoFactorSetup(h.regenerateCodes))
	mux.Handle("POST /settings/security/sessions/{id}/revoke", h.twoFactorSetup(h.revokeSession))
	mux.Handle("POST /settings/security/sessions/revoke-others", h.twoFactorSetup(h.revokeOtherSessions))
	mux.Handle("POST /settings/security/send-code", h.twoFactorSetup(h.sendManageCode))
	mux.Handle("POST /settings/security/devices/{id}/remove", h.twoFactorSetup(h.removeDevice))
	mux.Handle("GET /settings/notifications", h.signedIn(h.notifications))
	mux.Handle("POST /settings/notifications", h.signedIn(h.saveNotifications))
	mux.Handle("GET /settings/notifications/defaults", h.signedIn(h.notifyDefaults))
	mux.Handle("POST /settings/notifications/defaults", h.signedIn(h.saveNotifyDefaults))
	mux.Handle("POST /settings/notifications/telegram", h.signedIn(h.connectTelegram))
	mux.Handle("POST /settings/notifications/telegram/disconnect", h.signedIn(h.disconnectTelegram))
	mux.Handle("POST /settings/notifications/push/{id}/remove", h.signedIn(h.removePushSubscription))
	mux.Handle("GET /notifications", h.signedIn(h.centre))
	mux.Handle("POST /notifications/read-all", h.signedIn(h.readAllNotifications))
	mux.Handle("POST /notifications/{id}/read", h.signedIn(h.setNotificationRead(true)))
	mux.Handle("POST /notifications/{id}/unread", h.signedIn(h.setNotificationRead(false)))
	mux.Handle("GET /settings/users", h.signedIn(h.users))
	mux.Handle("GET /settings/users/{id}", h.signedIn(h.profilePage))
	mux.Handle("POST /settings/users/{id}", h.signedIn(h.saveProfile))
	mux.Handle("POST /settings/users/{id}/photo", h.signedIn(h.uploadPhoto))
	mux.Handle("POST /settings/users/{id}/photo/delete", h.signedIn(h.removePhoto))
	mux.Handle("POST /settings/users/{id}/email", h.signedIn(h.requestEmailChange))
	mux.Handle("POST /settings/users/{id}/email/cancel", h.signedIn(h.cancelEmailChange))
	mux.Handle("POST /settings/users/{id}/password-reset", h.signedIn(h.sendPasswordReset))
	mux.Handle("POST /settings/users/{id}/two-factor/reset", h.signedIn(h.resetTwoFactor))
	mux.Handle("POST /settings/users/invite", h.signedIn(h.inviteUser))
	mux.Handle("POST /settings/users/invites/{id}/revoke", h.signedIn(h.revokeInvite))
	mux.Handle("POST /settings/users/{id}/access", h.signedIn(h.setAccess))
	mux.Handle("POST /settings/users/{id}/deactivate", h.signedIn(h.setState(core.StateInactive)))
	mux.Handle("POST /settings/users/{id}/reactivate", h.signedIn(h.setState(core.StateActive)))
	mux.Handle("GET /settings/tokens", h.signedIn(h.tokens))
	mux.Handle("POST /settings/tokens", h.signedIn(h.createToken))
	mux.Handle("POST /settings/tokens/{id}/revoke", h.signedIn(h.revokeToken))
	mux.Handle("GET /settings/workspace-security", h.signedIn(h.workspaceSecurity))
	mux.Handle("POST /settings/workspace-security/require", h.signedIn(h.setRequireTwoFactor))
	mux.Handle("POST /settings/workspace-security/allowlist", h.signedIn(h.setAllowlist))
	mux.Handle("GET /settings/audit", h.signedIn(h.auditPage))
	mux.Handle("GET "+deliveriesURL, h.signedIn(h.deliveriesPage))
	mux.Handle("POST "+deliveriesURL+"/{id}/retry", h.signedIn(h.retryDelivery))
	mux.Handle("GET /settings/audit.csv", h.signedIn(h.auditCSV))
	mux.Handle("GET /settings/outbox", h.signedIn(h.outbox))
	mux.Handle("GET /settings/outbox/{id}", h.signedIn(h.outboxHTML))
}

// CSRFDenied is the translated 403 page for requests refused by the
// cross-origin protection.
func (h *Handler) CSRFDenied() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h.errorPage(w, r, http.StatusForbidden, i18n.Key("web.error.csrf"))
	})
}

// NotFound is the translated 404 page.
func (h *Handler) NotFound() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h.errorPage(w, r, http.StatusNotFound, "errors.not_found")
	})
}

// Fallback answers what no route of mux matched, mounted on mux as "/":
// 405 with Allow when the path is a page with other methods (a catch-all
// "/" matches every method, so ServeMux itself never says 405), else the
// 404 page.
func (h *Handler) Fallback(mux *http.ServeMux) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var allow []string
		for _, m := range []string{http.MethodGet, http.MethodHead, http.MethodPost, http.MethodPut, http.MethodPatch, http.MethodDelete} {
			probe := r.Clone(r.Context())
			probe.Method = m
			if _, pattern := mux.Handler(probe); pattern != "" && pattern != "/" {
				allow = append(allow, m)
			}
		}
		if len(allow) == 0 {
			h.errorPage(w, r, http.StatusNotFound, "errors.not_found")
			return
		}
		w.Header().Set("Allow", strings.Join(allow, ", "))
		h.errorPage(w, r, http.StatusMethodNotAllowed, "errors.method_not_allowed")
	})
}

// InternalError is a translated 500 page, for httpx.RecoverWith.
func (h *Handler) InternalError() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h.errorPage(w, r, http.StatusInternalServerError, "errors.internal")
	})
}

// StaticURL returns the content-hashed URL of a static asset, such as
// "/static/app.3f2a9c1e.css", or "" for an unknown name.
func (h *Handler) StaticURL(name string) string { return h.static.url(name) }

// view is what every page template receives.
type view struct {
	Lang      string
	Title     string // translated page title
	CSS, JS   string // static asset URLs
	AppIcon   string // the installed app's icon (Safari's apple-touch-icon)
	Viewer    *core.User
	Workspace *core.Workspace
	Nav       []navItem     // settings navigation; nil on public pages
	NavHTML   template.HTML // Nav rendered (navHTML)
	Loc       *time.Location
	Flash     string            // translated success message
	Error     string            // translated main error message
	Fields    map[string]string // translated message per invalid field
	Form      url.Values        // submitted values to show again
	Data      any               // page-specific data
	// Unread is the signed-in person's unread notification count, for
	// the bell in the top bar.
	Unread int64
}

type navItem struct {
	Key, URL string
	Icon     string // a symbol of static/icons.svg
	Active   bool
}

// pageFor starts the view for a request: language, viewer and layout data.
func (h *Handler) pageFor(r *http.Request, title string) *view {
	p := principalFrom(r.Context())
	v := &view{CSS: h.static.url("app.css"), JS: h.static.url("app.js"), AppIcon: h.static.url("icon-192.png"), Loc: time.UTC, Form: url.Values{}}
	var fallback string
	if p != nil {
		v.Viewer = p.User
		v.Loc = loadLocation(p.User.Timezone)
		ws, err := h.deps.Accounts.Workspace(r.Context(), p.User)
		if err == nil {
			v.Workspace = ws
		}
		// The bell's count: an exact counter (cached on SQLite). A failure
		// only costs the badge, never the page.
		if n, err := h.deps.Notify.UnreadCount(r.Context(), p.User); err == nil {
			v.Unread = n
		} else {
			httpx.LogError(r.Context(), h.logger(r.Context()), "unread count", err)
		}
	} else if ws, err := h.deps.Accounts.DefaultWorkspace(r.Context()); err == nil && ws != nil {
		fallback = ws.Language
	}
	v.Lang = h.langFor(r, p, fallback)
	v.Title = h.loc(v.Lang).T(title)
	return v
}

// langFor picks the page language: the signed-in user's, else the
// browser's preference among ours, else the workspace default, else English.
func (h *Handler) langFor(r *http.Request, p *auth.Principal, fallback string) string {
	if p != nil && i18n.IsSupported(p.User.Language) {
		return p.User.Language
	}
	return h.deps.I18n.Negotiate(r.Header.Get("Accept-Language"), fallback)
}

func (h *Handler) loc(lang string) *i18n.Localizer { return h.deps.I18n.Localizer(lang) }

// render executes page with v and writes it with status. The page is
// rendered to a buffer first so a template error becomes a clean 500.
func (h *Handler) render(w http.ResponseWriter, r *http.Request, status int, page string, v *view) {
	pages, err := h.pagesFor(v.Lang)
	if err != nil {
		h.logger(r.Context()).Error("page templates", "lang", v.Lang, "err", err)
		http.Error(w, http.StatusText(http.StatusInternalServerError), http.StatusInternalServerError)
		return
	}
	t, ok := pages[page]
	if !ok {
		h.logger(r.Context()).Error("unknown page template", "page", page)
		http.Error(w, http.StatusText(http.StatusInternalServerError), http.StatusInternalServerError)
		return
	}
	buf := renderBuffers.Get().(*bytes.Buffer)
	defer putRenderBuffer(buf)
	if err := t.Execute(buf, v); err != nil {
		h.logger(r.Context()).Error("render page", "page", page, "err", err)
		http.Error(w, http.StatusText(http.StatusInternalServerError), http.StatusInternalServerError)
		return
	}
	hdr := w.Header()
	hdr.Set("Content-Type", "text/html; charset=utf-8")
	hdr.Set("Cache-Control", "no-store")
	// Known length: net/http then sends the page as it is, not in chunks.
	hdr.Set("Content-Length", strconv.Itoa(buf.Len()))
	w.WriteHeader(status)
	_, _ = w.Write(buf.Bytes())
}

// renderBuffers keep page buffers between renders: a page is tens of
// kilobytes, and growing a new buffer to that size for every request was
// most of the bytes a render allocated.
var renderBuffers = sync.Pool{New: func() any { return new(bytes.Buffer) }}

// putRenderBuffer returns buf to the pool unless an unusually large page
// grew it, so one huge page does not stay in memory for good.
func putRenderBuffer(buf *bytes.Buffer) {
	if buf.Cap() > 256<<10 {
		return
	}
	buf.Reset()
	renderBuffers.Put(buf)
}

// errorPage renders a translated error page for a status and message key.
func (h *Handler) errorPage(w http.ResponseWriter, r *http.Request, status int, key string) {
	if principalFrom(r.Context()) == nil {
		// Error pages are also served outside the sign-in middleware; look
		// at the cookie so a signed-in person keeps their language.
		if p := h.authenticate(r); p != nil {
			r = r.WithContext(withPrincipal(r.Context(), p))
		}
	}
	v := h.pageFor(r, errorTitleKey(status))
	v.Error = h.loc(v.Lang).T(key)
	v.Data = errorData{Status: status}
	h.render(w, r, status, "error", v)
}

type errorData struct{ Status int }

func errorTitleKey(status int) string {
	switch status {
	case http.StatusNotFound:
		return i18n.Key("web.error.not_found_title")
	case http.StatusForbidden:
		return i18n.Key("web.error.forbidden_title")
	case http.StatusUnauthorized:
		return i18n.Key("web.error.unauthorized_title")
	default:
		return i18n.Key("web.error.title")
	}
}

// fail renders err as an error page with the status httpx.StatusOf gives
// it. Uncoded errors are logged and shown as a generic 500.
func (h *Handler) fail(w http.ResponseWriter, r *http.Request, err error) {
	err = httpx.Overtime(r.Context(), err)
	status := httpx.StatusOf(err)
	if status >= 500 {
		// The pattern, not the path: paths of mailed links hold their token.
		httpx.LogError(r.Context(), h.logger(r.Context()), "page failed", err, "pattern", r.Pattern)
	}
	e := core.AsError(err)
	key := "errors.internal"
	if e != nil && (status < 500 || e.Code == core.EUNAVAILABLE) {
		key = e.Key
	}
	if e != nil && e.Code == core.EUNAVAILABLE {
		w.Header().Set("Retry-After", strconv.Itoa(httpx.RetryAfterSeconds(e.RetryAfter)))
	}
	h.errorPage(w, r, status, key)
}

// applyError puts a domain error into v (main message and per-field
// messages) and returns the HTTP status for it. Uncoded errors are logged
// and shown as the generic internal error.
func (h *Handler) applyError(ctx context.Context, w http.ResponseWriter, v *view, err error) int {
	l := h.loc(v.Lang)
	err = httpx.Overtime(ctx, err)
	status := httpx.StatusOf(err)
	e := core.AsError(err)
	if e == nil || (status >= 500 && e.Code != core.EUNAVAILABLE) {
		httpx.LogError(ctx, h.logger(ctx), "request failed", err)
		v.Error = l.T("errors.internal")
		return http.StatusInternalServerError
	}
	data := e.Data
	switch e.Code {
	case core.ETOOMANY:
		secs := httpx.RetryAfterSeconds(e.RetryAfter)
		w.Header().Set("Retry-After", fmt.Sprint(secs))
		data = map[string]any{"Count": secs}
	case core.EUNAVAILABLE:
		w.Header().Set("Retry-After", fmt.Sprint(httpx.RetryAfterSeconds(e.RetryAfter)))
		// The person sees "try again"; the operator needs the cause.
		h.logger(ctx).WarnContext(ctx, "request unavailable", "err", err)
	}
	v.Error = l.Message(e.Key, data)
	if len(e.Fields) > 0 {
		v.Fields = make(map[string]string, len(e.Fields))
		for _, f := range e.Fields {
			if _, dup := v.Fields[f.Field]; !dup {
				v.Fields[f.Field] = l.Message(f.Key, f.Data)
			}
		}
	}
	return status
}

func (h *Handler) logger(ctx context.Context) *slog.Logger {
	if l := httpx.Logger(ctx); l != slog.Default() {
		return l
	}
	return h.deps.Logger
}

// clientIP is the resolved client address, falling back to the peer.
func clientIP(r *http.Request) string { return httpx.RequestIP(r) }

// formBodyLimit caps a submitted form, as api.DefaultMaxBodyBytes caps an
// API body; without it ParseForm would read up to 10 MB.
const formBodyLimit = 1 << 20

// parseForm reads a submitted form into r.PostForm, capped at
// formBodyLimit. When it cannot, it answers the request and returns false.
func (h *Handler) parseForm(w http.ResponseWriter, r *http.Request) bool {
	r.Body = http.MaxBytesReader(w, r.Body, formBodyLimit)
	err := r.ParseForm()
	if err == nil {
		return true
	}
	if _, ok := errors.AsType[*http.MaxBytesError](err); ok {
		h.errorPage(w, r, http.StatusRequestEntityTooLarge, "errors.body_too_large")
	} else {
		h.errorPage(w, r, http.StatusBadRequest, "errors.bad_request")
	}
	return false
}

// redirect sends a 303 so a POST is followed by a GET.
func redirect(w http.ResponseWriter, r *http.Request, to string) {
	http.Redirect(w, r, to, http.StatusSeeOther)
}

// safeNext returns next when it is a local path on this site, else "".
// Anything else could send a freshly signed-in person to another site.
func safeNext(next string) string {
	if next == "" || next[0] != '/' || len(next) > 1 && (next[1] == '/' || next[1] == '\\') {
		return ""
	}
	u, err := url.Parse(next)
	if err != nil || u.Scheme != "" || u.Host != "" || u.User != nil {
		return ""
	}
	for _, c := range next {
		if c < 0x20 || c == 0x7f || c == '\\' {
			return ""
		}
	}
	return next
}
