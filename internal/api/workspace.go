package api

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"reflect"
	"strings"
	"time"

	"github.com/danielgtaylor/huma/v2"
	"github.com/danielgtaylor/huma/v2/negotiation"

	"roster/internal/security"
)

// WorkspaceSecurity is a workspace's security settings.
type WorkspaceSecurity struct {
	RequireTwoFactor bool     `json:"require_two_factor" doc:"Two-step verification is mandatory: users without it can use nothing else until it is on."`
	IPAllowlist      []string `json:"ip_allowlist" nullable:"false" doc:"Addresses and CIDR ranges, normalised (host bits cleared); requests and sign-ins from elsewhere are refused. Empty: every address is allowed."`
}

type workspaceSecurityOutput struct{ Body *WorkspaceSecurity }

type requireTwoFactorInput struct {
	Body struct {
		Enabled bool `json:"enabled" doc:"true makes two-step verification mandatory in the workspace."`
	}
}

type allowlistInput struct {
	Body struct {
		Entries []string `json:"entries" nullable:"false" doc:"At most 1000 IPv4 or IPv6 addresses and CIDR ranges, e.g. 198.51.100.0/24; an empty list allows every address."`
	}
}

// WorkspaceAudit is the workspace's audit log, newest first.
type WorkspaceAudit struct {
	Items []*AuditEntry `json:"items" nullable:"false"`
}

type auditQueryInput struct {
	Type   string `query:"type" maxLength:"100" example:"two_factor." doc:"One action (two_factor.enabled), or a group of them ending in a dot (two_factor.); all when absent."`
	UserID int64  `query:"user_id" minimum:"0" doc:"Only entries about this user; everyone when absent."`
	Limit  int    `query:"limit" default:"500" minimum:"1" maximum:"10000" doc:"At most this many entries, newest first."`
	Format string `query:"format" enum:"json,csv" doc:"csv answers text/csv, like Accept: text/csv; json by default."`
	Accept string `header:"Accept" doc:"text/csv for the CSV export."`
}

type auditExportOutput struct {
	ContentDisposition string `header:"Content-Disposition" doc:"With CSV: attachment, with a file name."`
	Body               func(huma.Context)
}

const mediaCSV = "text/csv"

func (a *API) registerWorkspaceSecurity() {
	adminOp := func(o huma.Operation) huma.Operation {
		o.Tags = []string{"Workspace security"}
		o.Security = signedIn
		return a.op(o)
	}
	huma.Register(a.humaAPI, adminOp(huma.Operation{
		OperationID: "get-workspace-security",
		Method:      http.MethodGet,
		Path:        "/workspace/security",
		Summary:     "The workspace's security settings",
		Description: "Admins only: mandatory two-step verification and the IP allowlist.",
	}), a.workspaceSecurity)

	huma.Register(a.humaAPI, adminOp(huma.Operation{
		OperationID: "set-require-two-factor",
		Method:      http.MethodPut,
		Path:        "/workspace/security/require-two-factor",
		Summary:     "Make two-step verification mandatory, or not",
		Description: "Admins only. An admin can switch it on only while their own two-step verification is on (409 otherwise). " +
			"While it is on, users without two-step verification get 403 with the problem type " + ProblemTwoFactorRequired +
			" on nearly every request until they turn it on in the web app. Audited.",
		DefaultStatus: http.StatusNoContent,
		Errors:        []int{http.StatusBadRequest, http.StatusConflict, http.StatusUnprocessableEntity},
	}), a.setRequireTwoFactor)

	huma.Register(a.humaAPI, adminOp(huma.Operation{
		OperationID: "set-ip-allowlist",
		Method:      http.MethodPut,
		Path:        "/workspace/security/ip-allowlist",
		Summary:     "Replace the IP allowlist",
		Description: "Admins only. Each entry is an IPv4 or IPv6 address or a CIDR range; an entry that is neither gives 422 " +
			"on body.entries, naming its position (line). Once a list is set, requests and sign-ins from other addresses get " +
			"403 with the problem type " + ProblemIPNotAllowed + ". A list that leaves out the address of the admin saving it " +
			"would lock them out and is refused with 409. An empty list allows every address. Audited.",
		DefaultStatus: http.StatusNoContent,
		Errors:        []int{http.StatusBadRequest, http.StatusConflict, http.StatusUnprocessableEntity},
	}), a.setAllowlist)

	// The answer is JSON or CSV: the body is written by the handler, so the
	// two media types are described here rather than derived from a type.
	auditSchema := a.humaAPI.OpenAPI().Components.Schemas.Schema(reflect.TypeFor[WorkspaceAudit](), true, "WorkspaceAudit")
	huma.Register(a.humaAPI, adminOp(huma.Operation{
		OperationID: "get-workspace-audit",
		Method:      http.MethodGet,
		Path:        "/audit",
		Summary:     "The workspace's audit log",
		Description: "Admins only. Security events of the whole workspace, newest first: sign-ins and failed ones, two-step " +
			"verification changes, revoked sessions, policy changes, password and email changes. Filter by type (an action, " +
			"or a group ending in a dot such as two_factor.) and by user_id (404 for a user of another workspace). " +
			"With Accept: text/csv or format=csv the answer is a CSV file (columns id, time, action, actor_id, actor_name, " +
			"target_id, detail, ip; times in RFC 3339 UTC) to download.",
		Errors: []int{http.StatusNotFound, http.StatusUnprocessableEntity},
		Responses: map[string]*huma.Response{
			"200": {
				Description: "The entries.",
				Content: map[string]*huma.MediaType{
					"application/json": {Schema: auditSchema},
					mediaCSV: {Schema: &huma.Schema{Type: huma.TypeString},
						Example: "id,time,action,actor_id,actor_name,target_id,detail,ip\n" +
							"42,2025-03-01T09:30:00Z,two_factor.enabled,7,Ada Admin,7,totp,198.51.100.7\n"},
				},
			},
		},
	}), a.workspaceAudit)
}

func (a *API) workspaceSecurity(ctx context.Context, _ *struct{}) (*workspaceSecurityOutput, error) {
	p, err := a.deps.Security.WorkspacePolicy(ctx, principal(ctx).User)
	if err != nil {
		return nil, a.fail(ctx, err)
	}
	out := &WorkspaceSecurity{RequireTwoFactor: p.RequireTwoFactor, IPAllowlist: make([]string, 0, len(p.Allowlist))}
	for _, pr := range p.Allowlist {
		if pr.IsSingleIP() {
			out.IPAllowlist = append(out.IPAllowlist, pr.Addr().String())
		} else {
			out.IPAllowlist = append(out.IPAllowlist, pr.String())
		}
	}
	return &workspaceSecurityOutput{Body: out}, nil
}

func (a *API) setRequireTwoFactor(ctx context.Context, in *requireTwoFactorInput) (*struct{}, error) {
	st := stateFrom(ctx)
	if err := a.deps.Security.SetRequireTwoFactor(ctx, st.principal.User, in.Body.Enabled, st.ip); err != nil {
		return nil, a.fail(ctx, err)
	}
	return nil, nil
}

// lineBreaks keeps one entry on one line of the text SetAllowlist parses,
// so the line an error names is the entry's position.
var lineBreaks = strings.NewReplacer("\r", " ", "\n", " ")

func (a *API) setAllowlist(ctx context.Context, in *allowlistInput) (*struct{}, error) {
	st := stateFrom(ctx)
	entries := make([]string, len(in.Body.Entries))
	for i, e := range in.Body.Entries {
		entries[i] = lineBreaks.Replace(e)
	}
	if err := a.deps.Security.SetAllowlist(ctx, st.principal.User, strings.Join(entries, "\n"), st.ip); err != nil {
		return nil, a.fail(ctx, err)
	}
	return nil, nil
}

func (a *API) workspaceAudit(ctx context.Context, in *auditQueryInput) (*auditExportOutput, error) {
	p := principal(ctx)
	entries, err := a.deps.Security.Audit(ctx, p.User, security.AuditQuery{UserID: in.UserID, Type: in.Type, Limit: in.Limit})
	if err != nil {
		return nil, a.fail(ctx, err)
	}
	csv := in.Format == "csv" ||
		(in.Format == "" && negotiation.SelectQValueFast(in.Accept, []string{"application/json", mediaCSV}) == mediaCSV)
	var buf bytes.Buffer
	out := &auditExportOutput{}
	ct := "application/json"
	if csv {
		if err := security.WriteAuditCSV(&buf, entries); err != nil {
			return nil, a.fail(ctx, err)
		}
		ct = mediaCSV + "; charset=utf-8"
		out.ContentDisposition = `attachment; filename="audit-` + time.Now().UTC().Format("2006-01-02") + `.csv"`
	} else {
		list := &WorkspaceAudit{Items: make([]*AuditEntry, 0, len(entries))}
		for _, e := range entries {
			list.Items = append(list.Items, toAuditEntry(e))
		}
		if err := json.NewEncoder(&buf).Encode(list); err != nil {
			return nil, a.fail(ctx, err)
		}
	}
	// Written whole, after every error could still become a problem.
	out.Body = func(hctx huma.Context) {
		hctx.SetHeader("Content-Type", ct)
		hctx.SetStatus(http.StatusOK)
		_, _ = hctx.BodyWriter().Write(buf.Bytes())
	}
	return out, nil
}
