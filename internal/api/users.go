package api

import (
	"cmp"
	"context"
	"fmt"
	"net/http"
	"net/url"
	"strings"

	"github.com/danielgtaylor/huma/v2"

	"roster/internal/account"
	"roster/internal/core"
	"roster/internal/security"
)

type listUsersInput struct {
	Page      int    `query:"page" default:"1" minimum:"1" maximum:"1000000" doc:"Page number, from 1."`
	PerPage   int    `query:"per_page" default:"50" minimum:"1" maximum:"200" doc:"Users per page."`
	TwoFactor string `query:"two_factor" enum:"on,off" doc:"Only users with two-step verification on, or off; all users when absent."`
}

// UserPage is one page of the workspace's users.
type UserPage struct {
	Items   []*User `json:"items" nullable:"false"`
	Page    int     `json:"page"`
	PerPage int     `json:"per_page"`
	Total   int     `json:"total" doc:"Users in the workspace that match the filter."`
}

type listUsersOutput struct {
	Link string `header:"Link" doc:"RFC 8288 links to the next and previous pages (rel=\"next\", rel=\"prev\") when they exist."`
	Body *UserPage
}

type userIDInput struct {
	ID int64 `path:"id" minimum:"1"`
}

func (a *API) registerUsers() {
	huma.Register(a.humaAPI, a.op(huma.Operation{
		OperationID: "list-users",
		Method:      http.MethodGet,
		Path:        "/users",
		Summary:     "List the workspace's users",
		Description: "For admins and holders of profile access. Ordered by name. Each user shows its two-step " +
			"verification methods in two_factor; two_factor=on or off filters by it.",
		Tags:     []string{"Users"},
		Security: signedIn,
		Errors:   []int{http.StatusForbidden, http.StatusUnprocessableEntity},
	}), a.listUsers)

	huma.Register(a.humaAPI, a.op(huma.Operation{
		OperationID: "get-user",
		Method:      http.MethodGet,
		Path:        "/users/{id}",
		Summary:     "Get a user",
		Description: "Anyone may read themselves; reading others needs admin or profile access. " +
			"Users of other workspaces do not exist for the caller (404).",
		Tags:     []string{"Users"},
		Security: signedIn,
		Errors:   []int{http.StatusForbidden, http.StatusNotFound, http.StatusUnprocessableEntity},
	}), a.getUser)
}

func (a *API) listUsers(ctx context.Context, in *listUsersInput) (*listUsersOutput, error) {
	p := principal(ctx)
	pg := account.Page{Offset: (in.Page - 1) * in.PerPage, Limit: in.PerPage, TwoFactor: in.TwoFactor}
	var page *UserPage
	if a.deps.Profiles != nil {
		profiles, total, err := a.deps.Profiles.List(ctx, p.User, pg)
		if err != nil {
			return nil, a.fail(ctx, err)
		}
		page = &UserPage{Items: make([]*User, 0, len(profiles)), Page: in.Page, PerPage: in.PerPage, Total: total}
		for _, prof := range profiles {
			page.Items = append(page.Items, fromProfile(prof))
		}
	} else {
		users, total, err := a.deps.Accounts.Users(ctx, p.User, pg)
		if err != nil {
			return nil, a.fail(ctx, err)
		}
		page = &UserPage{Items: make([]*User, 0, len(users)), Page: in.Page, PerPage: in.PerPage, Total: total}
		for _, u := range users {
			page.Items = append(page.Items, toUser(u, p.User))
		}
	}
	if a.deps.Security != nil {
		// One query for the page, not one per user.
		sums, err := a.deps.Security.Summaries(ctx, p.User)
		if err != nil {
			return nil, a.fail(ctx, err)
		}
		for _, u := range page.Items {
			u.TwoFactor = cmp.Or(sums[u.ID], "off")
		}
	}
	total := page.Total
	var links []string
	if in.Page*in.PerPage < total {
		links = append(links, pageLink(in.Page+1, in.PerPage, in.TwoFactor, "next"))
	}
	if in.Page > 1 {
		links = append(links, pageLink(in.Page-1, in.PerPage, in.TwoFactor, "prev"))
	}
	return &listUsersOutput{Link: strings.Join(links, ", "), Body: page}, nil
}

func pageLink(page, perPage int, twoFactor, rel string) string {
	q := url.Values{"page": {fmt.Sprint(page)}, "per_page": {fmt.Sprint(perPage)}}
	if twoFactor != "" {
		q.Set("two_factor", twoFactor)
	}
	return fmt.Sprintf(`<%s/users?%s>; rel="%s"`, Prefix, q.Encode(), rel)
}

func (a *API) getUser(ctx context.Context, in *userIDInput) (*userOutput, error) {
	p := principal(ctx)
	u, err := a.deps.Accounts.User(ctx, p.User, in.ID)
	if err != nil {
		return nil, a.fail(ctx, err)
	}
	return a.userOutput(ctx, p.User, u)
}

// render shows u to viewer as the profile rules say, with the pending
// email change.
func (a *API) render(ctx context.Context, viewer, u *core.User) (*User, error) {
	p, err := a.deps.Profiles.Get(ctx, viewer, u.ID)
	if err != nil {
		return nil, err
	}
	return a.withTwoFactor(ctx, fromProfile(p), p.User)
}

// withTwoFactor fills out.TwoFactor from u's methods. Callers have
// already checked the viewer may see the user. The user row says
// whether any method is on, so most people (off) cost no query.
func (a *API) withTwoFactor(ctx context.Context, out *User, u *core.User) (*User, error) {
	if !u.TwoFactorEnabled {
		out.TwoFactor = security.Summary(nil)
		return out, nil
	}
	st, err := a.deps.Security.Status(ctx, u)
	if err != nil {
		return nil, err
	}
	out.TwoFactor = security.Summary(st.Methods())
	return out, nil
}

// userOutput answers with u as viewer sees it.
func (a *API) userOutput(ctx context.Context, viewer, u *core.User) (*userOutput, error) {
	out, err := a.render(ctx, viewer, u)
	if err != nil {
		return nil, a.fail(ctx, err)
	}
	return &userOutput{Body: out}, nil
}
