// Package api serves Roster's JSON API under /api/v1 with huma: typed
// handlers, an OpenAPI 3.1 document generated from the code, and RFC 9457
// problem responses translated into the caller's language.
//
// Every request passes one wrapper (see wrap) before huma sees it: it picks
// the caller's language, authenticates bearer tokens and the session cookie,
// applies the per-caller rate limit and the workspace's security policy (IP
// allowlist, mandatory two-step verification). The rules themselves live in
// internal/account, internal/auth, internal/profile and internal/security,
// shared with the web pages.
package api

import (
	"errors"
	"net/http"
	"slices"
	"strings"
	"sync"

	"github.com/danielgtaylor/huma/v2"

	"roster/internal/account"
	"roster/internal/auth"
	"roster/internal/httpx"
	"roster/internal/i18n"
	"roster/internal/live"
	"roster/internal/notify"
	"roster/internal/notify/mobile"
	"roster/internal/notify/webpush"
	"roster/internal/profile"
	"roster/internal/security"
)

// Prefix is where the API lives on the shared ServeMux.
const Prefix = "/api/v1"

// DefaultMaxBodyBytes caps request bodies unless Deps says otherwise.
const DefaultMaxBodyBytes = 1 << 20

// Deps are the services and limits the API uses.
type Deps struct {
	Accounts      *account.Service
	Auth          *auth.Service
	Profiles      *profile.Service
	Security      *security.Service
	Notify        *notify.Service
	Devices       *mobile.Devices // the mobile app's devices
	Live          *live.Hub       // open notification streams
	I18n          *i18n.Bundle
	RatePerSecond float64 // per caller; default httpx.DefaultRate
	RateBurst     int     // default httpx.DefaultBurst
	MaxBodyBytes  int64   // default DefaultMaxBodyBytes
	Version       string  // shown in the OpenAPI document
	SecureCookies bool    // the base URL is https: cookies the API clears carry Secure
	// Telegram links chats for the Telegram channel; nil when not
	// configured.
	Telegram TelegramLinks
	// Push keeps the browsers subscribed to push notifications; PushKey
	// is the server's VAPID public key, "" when browser push is not
	// configured (subscribing is then 409).
	Push    *webpush.Subscriptions
	PushKey string
}

// API is the JSON API. Build it with New, mount it with Register.
type API struct {
	deps    Deps
	humaAPI huma.API
	limiter *httpx.Limiter
	csrf    *http.CrossOriginProtection
	routes  []route

	ownMux sync.Once
	own    *http.ServeMux // for recorder.ServeHTTP only
}

// route is one handler huma asked to mount, kept until Register.
type route struct {
	op      *huma.Operation
	handler func(huma.Context)
}

func (r route) pattern() string { return strings.ToUpper(r.op.Method) + " " + r.op.Path }

// recorder is the huma adapter: it only records routes, so New can build
// the whole API (and its OpenAPI document) before a mux exists.
type recorder struct{ api *API }

func (rec recorder) Handle(op *huma.Operation, h func(huma.Context)) {
	rec.api.routes = append(rec.api.routes, route{op: op, handler: h})
}

// ServeHTTP serves the recorded routes on a private mux; huma's own tools
// use it, Roster uses Register.
func (rec recorder) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	rec.api.ownMux.Do(func() {
		rec.api.own = http.NewServeMux()
		rec.api.Register(rec.api.own)
	})
	rec.api.own.ServeHTTP(w, r)
}

// New builds the API and its OpenAPI document.
func New(d Deps) (*API, error) {
	// Every route is served: the API requires every service it uses.
	if d.Accounts == nil || d.Auth == nil || d.Profiles == nil || d.Security == nil || d.Notify == nil || d.Live == nil || d.I18n == nil {
		return nil, errors.New("api: Deps needs Accounts, Auth, Profiles, Security, Notify, Live and I18n")
	}
	if d.Devices == nil || d.Push == nil {
		return nil, errors.New("api: Deps needs Devices and Push")
	}
	installErrorConstructor()
	if d.RatePerSecond <= 0 {
		d.RatePerSecond = httpx.DefaultRate
	}
	if d.RateBurst <= 0 {
		d.RateBurst = httpx.DefaultBurst
	}
	if d.MaxBodyBytes <= 0 {
		d.MaxBodyBytes = DefaultMaxBodyBytes
	}
	if d.Version == "" {
		d.Version = "dev"
	}
	a := &API{
		deps:    d,
		limiter: httpx.NewLimiter(d.RatePerSecond, d.RateBurst),
		csrf:    http.NewCrossOriginProtection(),
	}

	cfg := huma.DefaultConfig("Roster API", d.Version)
	cfg.Info.Description = "Users, sign-in and API tokens of a Roster workspace. " +
		"Errors are RFC 9457 problem documents whose `detail` and `errors[].message` are in the " +
		"caller's language (the signed-in user's language, else Accept-Language).\n\n" +
		"Problem types: most problems have no `type` (about:blank) and are told apart by their status. " +
		"Those that need more say so with a relative `type` URI:\n\n" +
		"- `" + ProblemTwoFactorEnabled + "` (409): the email address cannot change while two-step verification is on; " +
		"turn two-step verification off first, then request the change again.\n" +
		"- `" + ProblemWebOnly + "` (403): two-step verification can be turned on and off only from the web app " +
		"(a browser session cookie); requests with a bearer token (the mobile app, integrations) are refused. " +
		"Use the web version to change it.\n" +
		"- `" + ProblemIPNotAllowed + "` (403): the workspace accepts requests, and sign-ins, only from the addresses " +
		"of its IP allowlist, and this one came from elsewhere. Every signed-in operation, `POST /api/v1/auth/login` " +
		"and `POST /api/v1/auth/login/verify` may answer it; a refused sign-in issues no token and no challenge. " +
		"Connect from an allowed network, or ask an admin.\n" +
		"- `" + ProblemTwoFactorRequired + "` (403): the workspace requires two-step verification and the caller has " +
		"it off. Every signed-in operation answers it except `GET /api/v1/me`, `GET /api/v1/me/two-factor` and " +
		"`POST /api/v1/auth/logout`. Two-step verification can be turned on only in the web app: sign in there, turn it " +
		"on, then sign in again here."
	cfg.OpenAPIPath = Prefix + "/openapi"
	// The docs page loads scripts from a CDN, which the server's CSP forbids.
	cfg.DocsPath = ""
	// No /schemas route and no $schema links in bodies: responses stay plain.
	cfg.SchemasPath = ""
	cfg.CreateHooks = nil
	cfg.Components.SecuritySchemes = map[string]*huma.SecurityScheme{
		schemeBearer: {
			Type:        "http",
			Scheme:      "bearer",
			Description: "A session token from POST /api/v1/auth/login, or an API token (`rst_...`) created by an admin.",
		},
		schemeCookie: {
			Type:        "apiKey",
			In:          "cookie",
			Name:        auth.CookieName,
			Description: "The browser session cookie of the web pages. Changing requests must come from the same origin.",
		},
	}
	a.humaAPI = huma.NewAPI(cfg, recorder{a})
	a.documentSpecRoute()
	a.registerAuth()
	a.registerUsers()
	a.registerAdmin()
	a.registerProfile()
	a.registerPhotos()
	a.registerTwoFactor()
	a.registerSessions()
	a.registerWorkspaceSecurity()
	a.registerNotifications()
	a.registerDevices()
	a.registerTelegram()
	a.registerPush()
	return a, nil
}

// OpenAPI returns the generated OpenAPI document.
func (a *API) OpenAPI() *huma.OpenAPI { return a.humaAPI.OpenAPI() }

// Register mounts every route under /api/v1 on mux with method patterns,
// plus a catch-all that answers unknown API paths with a problem document
// instead of the web's HTML 404.
func (a *API) Register(mux httpx.Router) {
	methods := make(map[string][]string) // path -> methods, for 405 answers
	var paths []string
	for _, rt := range a.routes {
		mux.Handle(rt.pattern(), a.wrap(rt.op, rt.handler))
		if _, ok := methods[rt.op.Path]; !ok {
			paths = append(paths, rt.op.Path)
		}
		methods[rt.op.Path] = append(methods[rt.op.Path], strings.ToUpper(rt.op.Method))
	}
	known := http.NewServeMux()
	for _, p := range paths {
		m := methods[p]
		if slices.Contains(m, http.MethodGet) {
			m = append(m, http.MethodHead)
		}
		slices.Sort(m)
		known.Handle(p, allowed(m))
	}
	mux.Handle(Prefix+"/", a.fallback(known))
}

// allowed lists the methods of one path; the fallback reads it back from
// the private mux to tell 405 from 404.
type allowed []string

func (allowed) ServeHTTP(http.ResponseWriter, *http.Request) {}

// fallback answers requests no route matched: 405 with Allow when the path
// exists with other methods, else 404.
func (a *API) fallback(known *http.ServeMux) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		st := a.newState(r)
		if h, pattern := known.Handler(r); pattern != "" {
			if m, ok := h.(allowed); ok {
				w.Header().Set("Allow", strings.Join(m, ", "))
				writeProblem(w, problem(st.loc, http.StatusMethodNotAllowed, keyMethodNotAllowed, nil))
				return
			}
		}
		writeProblem(w, problem(st.loc, http.StatusNotFound, keyNotFound, nil))
	})
}

// documentSpecRoute lists GET /api/v1/openapi.json in the document itself,
// so that every served route is documented. huma serves it (and its YAML
// and OpenAPI 3.0 variants) outside the operation list.
func (a *API) documentSpecRoute() {
	a.OpenAPI().AddOperation(&huma.Operation{
		OperationID: "get-openapi",
		Method:      http.MethodGet,
		Path:        Prefix + "/openapi.json",
		Summary:     "This OpenAPI document",
		Description: "The OpenAPI 3.1 description of this API, generated from the code. " +
			"The same document is served as openapi.yaml, and converted to OpenAPI 3.0 as openapi-3.0.json and openapi-3.0.yaml.",
		Tags: []string{"Meta"},
		Responses: map[string]*huma.Response{
			"200": {
				Description: "The document.",
				Content:     map[string]*huma.MediaType{"application/openapi+json": {Schema: &huma.Schema{Type: huma.TypeObject}}},
			},
		},
	})
}

// Security requirement names.
const (
	schemeBearer = "bearer"
	schemeCookie = "cookie"
)

// signedIn is the security requirement of operations that need a caller.
var signedIn = []map[string][]string{{schemeBearer: {}}, {schemeCookie: {}}}

// op fills the parts every operation shares.
func (a *API) op(o huma.Operation) huma.Operation {
	o.Path = Prefix + o.Path
	// One more byte than allowed: huma reports "too large" when it reads
	// exactly the limit, and a body of exactly MaxBodyBytes is fine.
	o.MaxBodyBytes = a.deps.MaxBodyBytes + 1
	errs := []int{http.StatusTooManyRequests}
	if len(o.Security) > 0 {
		// 403: the workspace's policy may refuse any signed-in request.
		errs = append(errs, http.StatusUnauthorized, http.StatusForbidden)
	}
	for _, s := range errs {
		if !slices.Contains(o.Errors, s) {
			o.Errors = append(o.Errors, s)
		}
	}
	slices.Sort(o.Errors)
	return o
}
