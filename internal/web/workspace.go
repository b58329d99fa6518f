package web

import (
	"net/http"
	"net/url"
	"slices"
	"strconv"

	"roster/internal/account"
	"roster/internal/core"
	"roster/internal/httpx"
	"roster/internal/i18n"
	"roster/internal/security"
)

// Settings → Workspace security and Settings → Audit log, for admins. The
// rules (who may, lockout, parsing) live in internal/security; these
// handlers turn forms into calls and results into pages.

type workspaceSecurityData struct {
	RequireTwoFactor bool
	// OwnTwoFactor is the admin's own two-step verification: mandatory
	// two-step verification can only be switched on with it.
	OwnTwoFactor bool
	// Allowlist is the textarea's content: the canonical saved list, or
	// what was typed when a save was refused.
	Allowlist string
	CurrentIP string
}

func (h *Handler) workspaceSecurity(w http.ResponseWriter, r *http.Request) {
	h.renderWorkspaceSecurity(w, r, nil, nil)
}

// renderWorkspaceSecurity renders the page; with failed set it shows the
// error's messages, keeps a typed allowlist from form, and the status
// follows the error.
func (h *Handler) renderWorkspaceSecurity(w http.ResponseWriter, r *http.Request, failed error, form url.Values) {
	ctx := r.Context()
	me := principalFrom(ctx).User
	pol, err := h.deps.Security.WorkspacePolicy(ctx, me)
	if err != nil {
		h.fail(w, r, err)
		return
	}
	st, err := h.deps.Security.Status(ctx, me)
	if err != nil {
		h.fail(w, r, err)
		return
	}
	d := &workspaceSecurityData{RequireTwoFactor: pol.RequireTwoFactor, OwnTwoFactor: st.Enabled(),
		Allowlist: pol.AllowlistText, CurrentIP: clientIP(r)}
	v := h.settingsView(r, "/settings/workspace-security", i18n.Key("web.workspace_security.title"))
	status := http.StatusOK
	if failed != nil {
		v.Flash = ""
		status = h.applyError(ctx, w, v, failed)
		if form.Has("allowlist") {
			d.Allowlist = form.Get("allowlist")
		}
	}
	v.Data = d
	h.render(w, r, status, "workspace_security", v)
}

// workspaceSecurityFailed shows a refused change on the page, or as an
// error page when it is not something to fix there.
func (h *Handler) workspaceSecurityFailed(w http.ResponseWriter, r *http.Request, err error) {
	switch core.ErrorCode(err) {
	case core.EINVALID, core.ECONFLICT:
		h.renderWorkspaceSecurity(w, r, err, r.PostForm)
	default:
		h.fail(w, r, err)
	}
}

// formOn reads a switch: a checked checkbox sends "on"; "1" and "true" are
// accepted from other clients.
func formOn(s string) bool { return s == "on" || s == "1" || s == "true" }

func (h *Handler) setRequireTwoFactor(w http.ResponseWriter, r *http.Request) {
	me := principalFrom(r.Context()).User
	if !h.parseForm(w, r) {
		return
	}
	on := slices.ContainsFunc(r.PostForm["require"], formOn)
	if err := h.deps.Security.SetRequireTwoFactor(r.Context(), me, on, clientIP(r)); err != nil {
		h.workspaceSecurityFailed(w, r, err)
		return
	}
	done := "require_off"
	if on {
		done = "require_on"
	}
	redirect(w, r, "/settings/workspace-security?done="+done)
}

func (h *Handler) setAllowlist(w http.ResponseWriter, r *http.Request) {
	me := principalFrom(r.Context()).User
	if !h.parseForm(w, r) {
		return
	}
	if err := h.deps.Security.SetAllowlist(r.Context(), me, r.PostForm.Get("allowlist"), clientIP(r)); err != nil {
		h.workspaceSecurityFailed(w, r, err)
		return
	}
	redirect(w, r, "/settings/workspace-security?done=allowlist_saved")
}

// auditTypes are the filter choices of the audit page: "" for all, else an
// action group prefix as security.AuditQuery takes it.
var auditTypes = []struct{ Value, Key string }{
	{"", i18n.Key("web.audit_log.type_all")},
	{"sign_in.", i18n.Key("web.audit_log.type_sign_in")},
	{"two_factor.", i18n.Key("web.audit_log.type_two_factor")},
	{"session.", i18n.Key("web.audit_log.type_session")},
	{"password.", i18n.Key("web.audit_log.type_password")},
	{"email.", i18n.Key("web.audit_log.type_email")},
	{"note.", i18n.Key("web.audit_log.type_note")},
	{"user.", i18n.Key("web.audit_log.type_user")},
	{"invite.", i18n.Key("web.audit_log.type_invite")},
	{"api_token.", i18n.Key("web.audit_log.type_api_token")},
	{"workspace.", i18n.Key("web.audit_log.type_workspace")},
}

// auditQuery reads the filter of the audit page and its CSV export. An
// unknown type or user id lists everything rather than failing.
func auditQuery(q url.Values) security.AuditQuery {
	var out security.AuditQuery
	for _, t := range auditTypes {
		if t.Value == q.Get("type") {
			out.Type = t.Value
		}
	}
	if id, err := strconv.ParseInt(q.Get("user"), 10, 64); err == nil && id > 0 {
		out.UserID = id
	}
	return out
}

// auditPageLimit is how many entries the page shows; the CSV export has
// up to auditCSVLimit.
const (
	auditPageLimit = 500
	auditCSVLimit  = 10000
)

// auditUsersMax bounds the users loaded for the filter and the names.
const auditUsersMax = 5000

type auditLogData struct {
	Table   auditTable
	Types   []struct{ Value, Key string }
	Users   []*core.User
	Type    string
	UserID  int64
	CSVURL  string
	Limited bool // the page shows only the newest auditPageLimit entries
}

// workspaceUsers lists the workspace's users, for the audit filter and
// names.
func (h *Handler) workspaceUsers(r *http.Request, me *core.User) ([]*core.User, error) {
	var all []*core.User
	for len(all) < auditUsersMax {
		page, total, err := h.deps.Accounts.Users(r.Context(), me, account.Page{Offset: len(all), Limit: 200})
		if err != nil {
			return nil, err
		}
		all = append(all, page...)
		if len(page) == 0 || len(all) >= total {
			break
		}
	}
	return all, nil
}

func (h *Handler) auditPage(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	me := principalFrom(ctx).User
	q := auditQuery(r.URL.Query())
	q.Limit = auditPageLimit
	entries, err := h.deps.Security.Audit(ctx, me, q)
	if err != nil {
		h.fail(w, r, err)
		return
	}
	users, err := h.workspaceUsers(r, me)
	if err != nil {
		h.fail(w, r, err)
		return
	}
	names := make(map[int64]string, len(users))
	for _, u := range users {
		names[u.ID] = u.Name
	}
	v := h.settingsView(r, "/settings/audit", i18n.Key("web.audit_log.title"))
	l := h.loc(v.Lang)
	d := &auditLogData{Types: auditTypes, Users: users, Type: q.Type, UserID: q.UserID, Limited: len(entries) >= auditPageLimit}
	d.Table = newAuditTable(l, v.Loc, entries, names)
	csv := url.Values{}
	if q.Type != "" {
		csv.Set("type", q.Type)
	}
	if q.UserID != 0 {
		csv.Set("user", strconv.FormatInt(q.UserID, 10))
	}
	d.CSVURL = "/settings/audit.csv"
	if len(csv) > 0 {
		d.CSVURL += "?" + csv.Encode()
	}
	v.Data = d
	h.render(w, r, http.StatusOK, "audit", v)
}

// auditCSV exports the filtered audit log as a CSV file.
func (h *Handler) auditCSV(w http.ResponseWriter, r *http.Request) {
	q := auditQuery(r.URL.Query())
	q.Limit = auditCSVLimit
	entries, err := h.deps.Security.Audit(r.Context(), principalFrom(r.Context()).User, q)
	if err != nil {
		h.fail(w, r, err)
		return
	}
	hdr := w.Header()
	hdr.Set("Content-Type", "text/csv; charset=utf-8")
	hdr.Set("Content-Disposition", `attachment; filename="roster-audit.csv"`)
	hdr.Set("Cache-Control", "no-store")
	if err := security.WriteAuditCSV(w, entries); err != nil {
		httpx.LogError(r.Context(), h.logger(r.Context()), "write audit csv", err)
	}
}
