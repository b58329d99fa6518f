package web

import (
	"html/template"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"roster/internal/account"
	"roster/internal/core"
	"roster/internal/i18n"
)

// flashes maps the ?done= value of a redirect after a successful change to
// the message shown. Only these fixed names travel in the URL, never text.
var flashes = map[string]string{
	"invited":               i18n.Key("web.flash.invited"),
	"access":                i18n.Key("web.flash.access_saved"),
	"deactivated":           i18n.Key("web.flash.deactivated"),
	"reactivated":           i18n.Key("web.flash.reactivated"),
	"revoked":               i18n.Key("web.flash.token_revoked"),
	"invite_revoked":        i18n.Key("web.flash.invite_revoked"),
	"saved":                 i18n.Key("web.flash.profile_saved"),
	"photo_saved":           i18n.Key("web.flash.photo_saved"),
	"photo_removed":         i18n.Key("web.flash.photo_removed"),
	"email_cancelled":       i18n.Key("web.flash.email_cancelled"),
	"password_changed":      i18n.Key("web.flash.password_changed"),
	"reset_sent":            i18n.Key("web.flash.reset_sent"),
	"totp_on":               i18n.Key("web.flash.totp_on"),
	"email_on":              i18n.Key("web.flash.email_codes_on"),
	"two_factor_off":        i18n.Key("web.flash.two_factor_off"),
	"setup_cancelled":       i18n.Key("web.flash.two_factor_setup_cancelled"),
	"two_factor_reset":      i18n.Key("web.flash.two_factor_reset"),
	"session_revoked":       i18n.Key("web.flash.session_revoked"),
	"sessions_revoked":      i18n.Key("web.flash.sessions_revoked"),
	"code_sent":             i18n.Key("web.flash.manage_code_sent"),
	"require_on":            i18n.Key("web.flash.require_two_factor_on"),
	"require_off":           i18n.Key("web.flash.require_two_factor_off"),
	"allowlist_saved":       i18n.Key("web.flash.allowlist_saved"),
	"notify_saved":          i18n.Key("web.flash.notify_saved"),
	"delivery_retried":      i18n.Key("web.flash.delivery_retried"),
	"notify_defaults_saved": i18n.Key("web.flash.notify_defaults_saved"),
	"marked_read":           i18n.Key("web.flash.marked_read"),
	"marked_unread":         i18n.Key("web.flash.marked_unread"),
	"all_read":              i18n.Key("web.flash.all_read"),
	"device_removed":        i18n.Key("mobile.flash.device_removed"),
}

// settingsView starts a page of the settings area with its navigation.
func (h *Handler) settingsView(r *http.Request, active, title string) *view {
	v := h.pageFor(r, title)
	u := v.Viewer
	add := func(key, u, icon string) {
		v.Nav = append(v.Nav, navItem{Key: key, URL: u, Icon: icon, Active: u == active})
	}
	add(i18n.Key("web.nav.profile"), "/settings/profile", "user")
	add(i18n.Key("web.nav.security"), "/settings/security", "shield")
	add(i18n.Key("web.nav.notifications"), "/settings/notifications", "bell")
	if u.CanAccessProfiles() {
		add(i18n.Key("web.nav.users"), "/settings/users", "users")
	}
	if u.IsAdmin() {
		add(i18n.Key("web.nav.workspace_security"), "/settings/workspace-security", "lock")
		add(i18n.Key("web.nav.audit"), "/settings/audit", "list")
		add(i18n.Key("web.nav.deliveries"), deliveriesURL, "bell")
		add(i18n.Key("web.nav.tokens"), "/settings/tokens", "key")
		if h.deps.DevOutbox {
			add(i18n.Key("web.nav.outbox"), "/settings/outbox", "mail")
		}
	}
	if key, ok := flashes[r.URL.Query().Get("done")]; ok {
		v.Flash = h.loc(v.Lang).T(key)
	}
	v.NavHTML = h.navHTML(v.Lang, v.Nav)
	return v
}

// navHTML is the settings navigation's list items, made once per language
// and set of items (a handful per role and page) and kept: rendered by
// the template, its links, icons and labels were a sixth of a settings
// page's template work. The output is byte for byte the template's.
func (h *Handler) navHTML(lang string, items []navItem) template.HTML {
	var key strings.Builder
	key.WriteString(lang)
	for _, it := range items {
		key.WriteString("|" + it.URL + "|" + it.Icon + "|" + it.Key)
		if it.Active {
			key.WriteString("|active")
		}
	}
	if html, ok := h.navs.Load(key.String()); ok {
		return html.(template.HTML)
	}
	l := h.loc(lang)
	var b strings.Builder
	for _, it := range items {
		icon, err := h.icon(it.Icon)
		if err != nil {
			panic(err) // the items are constants of settingsView
		}
		b.WriteString(`<li><a href="` + htmlEscaper.Replace(it.URL) + `"`)
		if it.Active {
			b.WriteString(` class="active" aria-current="page"`)
		}
		b.WriteString(">" + string(icon) + "<span>" + htmlEscaper.Replace(l.T(it.Key)) + "</span></a></li>\n      ")
	}
	html := template.HTML(b.String())
	h.navs.Store(key.String(), html)
	return html
}

func (h *Handler) settingsIndex(w http.ResponseWriter, r *http.Request) {
	redirectFound(w, r, profileURL)
}

// pathID reads the {id} of the path. Anything but a positive number gets
// the 404 page and ok false.
func (h *Handler) pathID(w http.ResponseWriter, r *http.Request) (id int64, ok bool) {
	id, err := strconv.ParseInt(r.PathValue("id"), 10, 64)
	if err != nil || id <= 0 {
		h.fail(w, r, core.ErrNotFound)
		return 0, false
	}
	return id, true
}

// usersPerPage is the page size of the users list.
const usersPerPage = 50

type usersData struct {
	Users []*core.User
	// TwoFactor maps user IDs to "email", "app" or "both"; missing is off.
	TwoFactor  map[int64]string
	Filter     string // two_factor filter: "on", "off" or "" for all
	FilterURLs map[string]string
	Total      int
	Page       int
	Pages      int
	PrevURL    string
	NextURL    string
	Invites    []*core.Invite
	CanManage  bool
	InviteRole string
}

// users lists the workspace's people; admins also manage them here.
func (h *Handler) users(w http.ResponseWriter, r *http.Request) {
	h.renderUsers(w, r, nil)
}

// renderUsers renders the users page, with err's messages when a change
// failed (the status then follows the error).
func (h *Handler) renderUsers(w http.ResponseWriter, r *http.Request, err error) {
	me := principalFrom(r.Context()).User
	page, _ := strconv.Atoi(r.FormValue("page"))
	page = max(page, 1)
	filter := twoFactorFilter(r.FormValue("two_factor"))
	users, total, lerr := h.deps.Accounts.Users(r.Context(), me, account.Page{Offset: (page - 1) * usersPerPage, Limit: usersPerPage, TwoFactor: filter})
	if lerr != nil {
		h.fail(w, r, lerr)
		return
	}
	summaries, lerr := h.deps.Security.Summaries(r.Context(), me)
	if lerr != nil {
		h.fail(w, r, lerr)
		return
	}
	d := usersData{Users: users, TwoFactor: summaries, Filter: filter, Total: total, Page: page, CanManage: me.IsAdmin(), InviteRole: string(core.RoleUser)}
	d.Pages = max((total+usersPerPage-1)/usersPerPage, 1)
	pageURL := func(n int) string {
		u := "/settings/users?page=" + strconv.Itoa(n)
		if filter != "" {
			u += "&two_factor=" + filter
		}
		return u
	}
	if page > 1 {
		d.PrevURL = pageURL(page - 1)
	}
	if page < d.Pages {
		d.NextURL = pageURL(page + 1)
	}
	d.FilterURLs = map[string]string{"": usersURL(1, "", ""), "on": usersURL(1, "on", ""), "off": usersURL(1, "off", "")}
	// Who sees open invitations is the domain's call: forbidden means none.
	d.Invites, lerr = h.deps.Accounts.OpenInvites(r.Context(), me)
	if lerr != nil && core.ErrorCode(lerr) != core.EFORBIDDEN {
		h.fail(w, r, lerr)
		return
	}
	v := h.settingsView(r, "/settings/users", i18n.Key("web.users.title"))
	status := http.StatusOK
	if err != nil {
		v.Flash = ""
		status = h.applyError(r.Context(), w, v, err)
		if r.PostForm != nil && r.URL.Path == "/settings/users/invite" {
			v.Form = r.PostForm
			d.InviteRole = r.PostForm.Get("role")
		}
	}
	v.Data = d
	h.render(w, r, status, "users", v)
}

// twoFactorFilter keeps the users filter values the list knows; anything
// else lists everyone.
func twoFactorFilter(s string) string {
	if s == "on" || s == "off" {
		return s
	}
	return ""
}

// usersURL is the users list at page with the two-step filter and an
// optional done message.
func usersURL(page int, filter, done string) string {
	q := url.Values{}
	if done != "" {
		q.Set("done", done)
	}
	if page > 1 {
		q.Set("page", strconv.Itoa(page))
	}
	if filter != "" {
		q.Set("two_factor", filter)
	}
	if len(q) == 0 {
		return "/settings/users"
	}
	return "/settings/users?" + q.Encode()
}

// twoFactorKey names a security.Summary value for the users list.
func twoFactorKey(summary string) string {
	switch summary {
	case "email":
		return i18n.Key("web.two_factor.summary_email")
	case "app":
		return i18n.Key("web.two_factor.summary_app")
	case "both":
		return i18n.Key("web.two_factor.summary_both")
	}
	return i18n.Key("web.two_factor.summary_off")
}

// usersBack redirects to the users list after a change, keeping the page
// and the filter.
func usersBack(w http.ResponseWriter, r *http.Request, done string) {
	p, _ := strconv.Atoi(r.PostForm.Get("page"))
	redirect(w, r, usersURL(p, twoFactorFilter(r.PostForm.Get("two_factor")), done))
}

func (h *Handler) inviteUser(w http.ResponseWriter, r *http.Request) {
	me := principalFrom(r.Context()).User
	if !h.parseForm(w, r) {
		return
	}
	_, err := h.deps.Accounts.Invite(r.Context(), me, account.InviteInput{
		Email:  r.PostForm.Get("email"),
		Role:   core.Role(r.PostForm.Get("role")),
		Rights: formRights(r.PostForm),
	})
	if err != nil {
		h.changeFailed(w, r, err)
		return
	}
	usersBack(w, r, "invited")
}

// revokeInvite withdraws a pending invitation from the users page.
func (h *Handler) revokeInvite(w http.ResponseWriter, r *http.Request) {
	me := principalFrom(r.Context()).User
	id, ok := h.pathID(w, r)
	if !ok {
		return
	}
	if !h.parseForm(w, r) {
		return
	}
	if err := h.deps.Accounts.RevokeInvite(r.Context(), me, id); err != nil {
		h.changeFailed(w, r, err)
		return
	}
	usersBack(w, r, "invite_revoked")
}

func formRights(f url.Values) []core.Right {
	var out []core.Right
	for _, s := range f["rights"] {
		out = append(out, core.Right(s))
	}
	return out
}

// changeFailed shows a failed change on the users page, or as an error
// page when the person may not see that page at all.
func (h *Handler) changeFailed(w http.ResponseWriter, r *http.Request, err error) {
	switch core.ErrorCode(err) {
	case core.EFORBIDDEN, core.ENOTFOUND:
		h.fail(w, r, err)
	default:
		h.renderUsers(w, r, err)
	}
}

func (h *Handler) setAccess(w http.ResponseWriter, r *http.Request) {
	me := principalFrom(r.Context()).User
	id, ok := h.pathID(w, r)
	if !ok {
		return
	}
	if !h.parseForm(w, r) {
		return
	}
	_, err := h.deps.Accounts.SetAccess(r.Context(), me, id, account.AccessInput{
		Role:   core.Role(r.PostForm.Get("role")),
		Rights: formRights(r.PostForm),
	})
	if err != nil {
		h.changeFailed(w, r, err)
		return
	}
	usersBack(w, r, "access")
}

func (h *Handler) setState(state core.State) http.HandlerFunc {
	done := "reactivated"
	if state != core.StateActive {
		done = "deactivated"
	}
	return func(w http.ResponseWriter, r *http.Request) {
		me := principalFrom(r.Context()).User
		id, ok := h.pathID(w, r)
		if !ok {
			return
		}
		if !h.parseForm(w, r) {
			return
		}
		if _, err := h.deps.Accounts.SetState(r.Context(), me, id, state); err != nil {
			h.changeFailed(w, r, err)
			return
		}
		if id == me.ID && state != core.StateActive {
			// Deactivating yourself ends your own sessions too.
			h.clearCookie(w)
			redirect(w, r, "/login")
			return
		}
		usersBack(w, r, done)
	}
}

// expiry is one choice of API token lifetime.
type expiry struct {
	Value string
	Key   string
	TTL   time.Duration
}

var expiries = []expiry{
	{"1d", i18n.Key("web.tokens.expiry.1d"), 24 * time.Hour},
	{"7d", i18n.Key("web.tokens.expiry.7d"), 7 * 24 * time.Hour},
	{"30d", i18n.Key("web.tokens.expiry.30d"), 30 * 24 * time.Hour},
	{"90d", i18n.Key("web.tokens.expiry.90d"), 90 * 24 * time.Hour},
	{"1y", i18n.Key("web.tokens.expiry.1y"), 365 * 24 * time.Hour},
	{"5y", i18n.Key("web.tokens.expiry.5y"), 5 * 365 * 24 * time.Hour},
}

type tokensData struct {
	Tokens   []*core.APIToken
	Expiries []expiry
	Expiry   string // selected
	Secret   string // the new token, shown once
	Created  *core.APIToken
	Now      time.Time
}

func (h *Handler) tokensView(w http.ResponseWriter, r *http.Request) (*view, *tokensData, bool) {
	me := principalFrom(r.Context()).User
	list, err := h.deps.Auth.APITokens(r.Context(), me)
	if err != nil {
		h.fail(w, r, err)
		return nil, nil, false
	}
	v := h.settingsView(r, "/settings/tokens", i18n.Key("web.tokens.title"))
	d := &tokensData{Tokens: list, Expiries: expiries, Expiry: "90d", Now: time.Now()}
	v.Data = d
	return v, d, true
}

func (h *Handler) tokens(w http.ResponseWriter, r *http.Request) {
	v, _, ok := h.tokensView(w, r)
	if !ok {
		return
	}
	h.render(w, r, http.StatusOK, "tokens", v)
}

// createToken creates an API token and shows its secret on the response
// itself: it is never stored, so there is no page to redirect to.
func (h *Handler) createToken(w http.ResponseWriter, r *http.Request) {
	me := principalFrom(r.Context()).User
	if !h.parseForm(w, r) {
		return
	}
	var ttl time.Duration
	for _, e := range expiries {
		if e.Value == r.PostForm.Get("expires") {
			ttl = e.TTL
		}
	}
	secret, tok, err := h.deps.Auth.CreateAPIToken(r.Context(), me, r.PostForm.Get("name"), ttl)
	if core.ErrorCode(err) == core.EFORBIDDEN {
		h.fail(w, r, err)
		return
	}
	v, d, ok := h.tokensView(w, r)
	if !ok {
		return
	}
	if err != nil {
		v.Form = r.PostForm
		if ttl != 0 {
			d.Expiry = r.PostForm.Get("expires")
		}
		h.render(w, r, h.applyError(r.Context(), w, v, err), "tokens", v)
		return
	}
	d.Secret, d.Created = secret, tok
	h.render(w, r, http.StatusOK, "tokens", v)
}

func (h *Handler) revokeToken(w http.ResponseWriter, r *http.Request) {
	me := principalFrom(r.Context()).User
	id, ok := h.pathID(w, r)
	if !ok {
		return
	}
	if err := h.deps.Auth.RevokeAPIToken(r.Context(), me, id); err != nil {
		h.fail(w, r, err)
		return
	}
	redirect(w, r, "/settings/tokens?done=revoked")
}

// outboxLimit is how many recent mails the dev outbox shows.
const outboxLimit = 100

type outboxData struct {
	Mails []*core.OutboxMail
}

func (h *Handler) outbox(w http.ResponseWriter, r *http.Request) {
	if !h.deps.DevOutbox {
		h.fail(w, r, core.ErrNotFound)
		return
	}
	mails, err := h.deps.Accounts.OutboxMails(r.Context(), principalFrom(r.Context()).User, outboxLimit)
	if err != nil {
		h.fail(w, r, err)
		return
	}
	v := h.settingsView(r, "/settings/outbox", i18n.Key("web.outbox.title"))
	v.Data = outboxData{Mails: mails}
	h.render(w, r, http.StatusOK, "outbox", v)
}

// outboxHTML returns the HTML part of a kept mail for a sandboxed iframe:
// the sandbox CSP gives it a unique origin and no scripts, so a mail can
// neither act as the signed-in admin nor run code.
func (h *Handler) outboxHTML(w http.ResponseWriter, r *http.Request) {
	if !h.deps.DevOutbox {
		h.fail(w, r, core.ErrNotFound)
		return
	}
	id, ok := h.pathID(w, r)
	if !ok {
		return
	}
	mails, err := h.deps.Accounts.OutboxMails(r.Context(), principalFrom(r.Context()).User, outboxLimit)
	if err != nil {
		h.fail(w, r, err)
		return
	}
	for _, m := range mails {
		if m.ID == id && m.HTML != "" {
			hdr := w.Header()
			hdr.Set("Content-Security-Policy", "sandbox; default-src 'none'; img-src data: https:; style-src 'unsafe-inline'; frame-ancestors 'self'")
			hdr.Set("X-Frame-Options", "SAMEORIGIN")
			hdr.Set("Content-Type", "text/html; charset=utf-8")
			hdr.Set("Cache-Control", "no-store")
			_, _ = w.Write([]byte(m.HTML))
			return
		}
	}
	h.fail(w, r, core.ErrNotFound)
}
