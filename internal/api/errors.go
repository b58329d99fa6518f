package api

import (
	"context"
	"encoding/json"
	"errors"
	"maps"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/danielgtaylor/huma/v2"
	"github.com/danielgtaylor/huma/v2/validation"

	"roster/internal/core"
	"roster/internal/httpx"
	"roster/internal/i18n"
	"roster/internal/photo"
	"roster/internal/profile"
	"roster/internal/security"
)

// ProblemTwoFactorEnabled is the problem type of an email change refused
// while two-step verification is on. RFC 9457 allows a relative URI; the
// OpenAPI description documents it.
const ProblemTwoFactorEnabled = Prefix + "/problems/two-factor-enabled"

// ProblemWebOnly is the problem type of a two-step verification change
// refused because the caller used a bearer token, not the web app.
const ProblemWebOnly = Prefix + "/problems/web-only"

// ProblemIPNotAllowed is the problem type of a request, or a sign-in, from
// an address outside the workspace's IP allowlist.
const ProblemIPNotAllowed = Prefix + "/problems/ip-not-allowed"

// ProblemTwoFactorRequired is the problem type of a request by a user
// without two-step verification in a workspace that makes it mandatory.
const ProblemTwoFactorRequired = Prefix + "/problems/two-factor-required"

// The refusals of the workspace's security policy (security.Check).
var (
	errIPNotAllowed      = core.Errorf(core.EFORBIDDEN, "errors.ip_not_allowed")
	errTwoFactorRequired = core.Errorf(core.EFORBIDDEN, "errors.two_factor_required")
)

// Message keys of the problems this package writes itself. Domain errors
// bring their own keys.
var (
	keyInternal         = i18n.Key("errors.internal")
	keyNotFound         = i18n.Key("errors.not_found")
	keyForbidden        = i18n.Key("errors.forbidden")
	keyConflict         = i18n.Key("errors.conflict")
	keyBodyTooLarge     = i18n.Key("errors.body_too_large")
	keyUnsupportedType  = i18n.Key("errors.unsupported_media_type")
	keyRequired         = i18n.Key("errors.field.required")
	keyTooShort         = i18n.Key("errors.field.too_short")
	keyTooLong          = i18n.Key("errors.field.too_long")
	keyTooManyItems     = i18n.Key("errors.field.too_many_items")
	keyEmailInvalid     = i18n.Key("errors.field.email_invalid")
	keyUnauthorized     = i18n.Key("api.errors.unauthorized")
	keyRateLimited      = i18n.Key("api.errors.rate_limited")
	keyInvalidJSON      = i18n.Key("api.errors.invalid_json")
	keyBodyRequired     = i18n.Key("api.errors.body_required")
	keyValidation       = i18n.Key("api.errors.validation")
	keyFieldInvalid     = i18n.Key("api.errors.field_invalid")
	keyFieldType        = i18n.Key("api.errors.field_type")
	keyFieldUnknown     = i18n.Key("api.errors.field_unknown")
	keyFieldDuplicate   = i18n.Key("api.errors.field_duplicate")
	keyPhotoType        = i18n.Key("api.errors.photo_content_type")
	keyFieldChoice      = i18n.Key("api.errors.field_choice")
	keyFieldMinimum     = i18n.Key("api.errors.field_minimum")
	keyFieldMaximum     = i18n.Key("api.errors.field_maximum")
	keyNotAcceptable    = i18n.Key("api.errors.not_acceptable")
	keyTimeout          = i18n.Key("api.errors.timeout")
	keyMethodNotAllowed = i18n.Key("api.errors.method_not_allowed")
	keyCrossOrigin      = i18n.Key("api.errors.cross_origin")
	keyRequestFailed    = i18n.Key("api.errors.request_failed")
)

// problem builds an RFC 9457 problem with a translated detail.
func problem(loc *i18n.Localizer, status int, key string, data map[string]any) *huma.ErrorModel {
	return &huma.ErrorModel{Status: status, Title: http.StatusText(status), Detail: loc.Message(key, data)}
}

// withHeaders attaches response headers to an error; huma sets them when a
// handler returns it, writeProblem when the wrapper does.
func withHeaders(m *huma.ErrorModel, h http.Header) error {
	if len(h) == 0 {
		return m
	}
	return huma.ErrorWithHeaders(m, h)
}

func unauthorized(loc *i18n.Localizer) error {
	return withHeaders(problem(loc, http.StatusUnauthorized, keyUnauthorized, nil), authenticateHeader())
}

func authenticateHeader() http.Header {
	return http.Header{"Www-Authenticate": {`Bearer realm="roster"`}}
}

func rateLimited(loc *i18n.Localizer, wait time.Duration) error {
	secs := httpx.RetryAfterSeconds(wait)
	return withHeaders(problem(loc, http.StatusTooManyRequests, keyRateLimited, map[string]any{"Count": secs}),
		http.Header{"Retry-After": {strconv.Itoa(secs)}})
}

func internalError(ctx context.Context, loc *i18n.Localizer, err error) error {
	httpx.LogError(ctx, httpx.Logger(ctx), "api request failed", err)
	return problem(loc, http.StatusInternalServerError, keyInternal, nil)
}

// writeProblem writes err, built by this file, outside huma.
func writeProblem(w http.ResponseWriter, err error) {
	var he huma.HeadersError
	if errors.As(err, &he) {
		for k, vs := range he.GetHeaders() {
			for _, v := range vs {
				w.Header().Add(k, v)
			}
		}
	}
	var m *huma.ErrorModel
	if !errors.As(err, &m) {
		m = &huma.ErrorModel{Status: http.StatusInternalServerError, Title: http.StatusText(http.StatusInternalServerError)}
	}
	w.Header().Set("Content-Type", "application/problem+json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(m.Status)
	_ = json.NewEncoder(w).Encode(m)
}

// fieldNames maps domain field names to the API's where they differ; ""
// is the request body itself (a photo upload is the whole body).
var fieldNames = map[string]string{"expires": "expires_in_days", photo.Field: "", "allowlist": "entries"}

// fail turns an error from the domain into the problem a handler returns:
// the status from httpx.StatusOf, the detail and field messages translated
// from the error's keys, and Retry-After for throttling.
func (a *API) fail(ctx context.Context, err error) error {
	loc := a.localizer(ctx)
	err = httpx.Overtime(ctx, err)
	e := core.AsError(err)
	status := httpx.StatusOf(err)
	if e == nil || (status >= 500 && e.Code != core.EUNAVAILABLE) {
		return internalError(ctx, loc, err)
	}
	h := http.Header{}
	data := e.Data
	switch e.Code {
	case core.ETOOMANY:
		secs := httpx.RetryAfterSeconds(e.RetryAfter)
		data = maps.Clone(data)
		if data == nil {
			data = map[string]any{}
		}
		if _, ok := data["Count"]; !ok {
			data["Count"] = secs
		}
		h.Set("Retry-After", strconv.Itoa(secs))
	case core.EUNAVAILABLE:
		h.Set("Retry-After", strconv.Itoa(httpx.RetryAfterSeconds(e.RetryAfter)))
		if e.Err != nil {
			httpx.Logger(ctx).WarnContext(ctx, "api request: unavailable", "err", e.Err)
		}
	case core.EUNAUTHORIZED:
		h = authenticateHeader()
	}
	m := problem(loc, status, e.Key, data)
	switch {
	case errors.Is(err, profile.ErrEmailLockedBy2FA):
		m.Type = ProblemTwoFactorEnabled
	case errors.Is(err, security.ErrWebOnly):
		m.Type = ProblemWebOnly
	case errors.Is(err, errIPNotAllowed), e.Key == core.ErrIPNotAllowed.Key:
		m.Type = ProblemIPNotAllowed
	case errors.Is(err, errTwoFactorRequired):
		m.Type = ProblemTwoFactorRequired
	}
	for _, f := range e.Fields {
		name := f.Field
		if n, ok := fieldNames[name]; ok {
			name = n
		}
		m.Errors = append(m.Errors, &huma.ErrorDetail{Location: joinLocation("body", name), Message: loc.Message(f.Key, f.Data)})
	}
	return withHeaders(m, h)
}

// localizer returns the request's localizer, or English outside a request.
func (a *API) localizer(ctx context.Context) *i18n.Localizer {
	if st := stateFrom(ctx); st != nil {
		return st.loc
	}
	return a.deps.I18n.Localizer(i18n.Fallback)
}

var installOnce sync.Once

// installErrorConstructor makes huma's own errors (unreadable JSON, body
// too large, wrong content type, validation) translated problems too. huma
// keeps the constructor in a package variable; requests that did not come
// through wrap (another huma API in the process) keep the previous one.
func installErrorConstructor() {
	installOnce.Do(func() {
		prev := huma.NewErrorWithContext
		huma.NewErrorWithContext = func(hctx huma.Context, status int, msg string, errs ...error) huma.StatusError {
			var st *state
			if hctx != nil {
				st = stateFrom(hctx.Context())
			}
			if st == nil {
				return prev(hctx, status, msg, errs...)
			}
			return humaProblem(hctx.Context(), st.loc, status, msg, errs)
		}
	})
}

// humaProblem translates an error huma raised. Echoed input values are
// dropped: they could hold a password.
func humaProblem(ctx context.Context, loc *i18n.Localizer, status int, msg string, errs []error) *huma.ErrorModel {
	for _, e := range errs {
		var mbe *http.MaxBytesError
		if errors.As(e, &mbe) {
			// A server-wide body cap (httpx.MaxBytes) cut the read.
			status = http.StatusRequestEntityTooLarge
			errs = nil
			break
		}
	}
	if status >= 500 {
		httpx.LogError(ctx, httpx.Logger(ctx), "api request failed", errors.Join(errs...), "status", status, "msg", msg)
		return problem(loc, status, keyInternal, nil)
	}
	var key string
	switch status {
	case http.StatusBadRequest:
		key = keyInvalidJSON
		if msg == "request body is required" {
			key = keyBodyRequired
		}
	case http.StatusUnauthorized:
		key = keyUnauthorized
	case http.StatusForbidden:
		key = keyForbidden
	case http.StatusNotFound:
		key = keyNotFound
	case http.StatusNotAcceptable:
		key = keyNotAcceptable
	case http.StatusRequestTimeout:
		key = keyTimeout
	case http.StatusConflict:
		key = keyConflict
	case http.StatusRequestEntityTooLarge:
		key = keyBodyTooLarge
	case http.StatusUnsupportedMediaType:
		key = keyUnsupportedType
	case http.StatusUnprocessableEntity:
		key = keyValidation
	default:
		key = keyRequestFailed
	}
	m := problem(loc, status, key, nil)
	for _, e := range errs {
		if e == nil {
			continue
		}
		if len(m.Errors) >= core.MaxFieldErrors {
			break // enough to show what is wrong; more would be an amplifier
		}
		d := translateDetail(loc, status, e)
		if d.Message == m.Detail && (d.Location == "" || d.Location == "body") {
			continue // says nothing the detail does not
		}
		m.Errors = append(m.Errors, d)
	}
	return m
}

// prefix is the constant start of a huma validation message format.
func prefix(format string) string {
	p, _, _ := strings.Cut(format, "%")
	return p
}

var typeMessages = map[string]bool{
	validation.MsgExpectedBoolean: true,
	validation.MsgExpectedNumber:  true,
	validation.MsgExpectedInteger: true,
	validation.MsgExpectedString:  true,
	validation.MsgExpectedArray:   true,
	validation.MsgExpectedObject:  true,
}

// translateDetail maps one of huma's English messages to a catalog message,
// keeping its location.
func translateDetail(loc *i18n.Localizer, status int, err error) *huma.ErrorDetail {
	var d *huma.ErrorDetail
	var det huma.ErrorDetailer
	if errors.As(err, &det) {
		d = det.ErrorDetail()
	} else {
		d = &huma.ErrorDetail{Message: err.Error()}
	}
	out := &huma.ErrorDetail{Location: d.Location}
	msg := d.Message
	key, data := keyFieldInvalid, map[string]any(nil)
	if rest, ok := strings.CutPrefix(msg, prefix(validation.MsgExpectedRequiredProperty)); ok {
		name, _, _ := strings.Cut(rest, " ")
		out.Location = joinLocation(d.Location, name)
		key = keyRequired
	} else if msg == validation.MsgUnexpectedProperty {
		key = keyFieldUnknown
	} else if strings.HasPrefix(msg, prefix(validation.MsgExpectedRFC5322Email)) {
		key = keyEmailInvalid
	} else if n, ok := intAfter(msg, validation.MsgExpectedMinLength); ok {
		key, data = keyTooShort, map[string]any{"Count": n}
	} else if n, ok := intAfter(msg, validation.MsgExpectedMaxLength); ok {
		key, data = keyTooLong, map[string]any{"Count": n}
	} else if n, ok := intAfter(msg, validation.MsgExpectedMaxItems); ok {
		key, data = keyTooManyItems, map[string]any{"Count": n}
	} else if strings.HasPrefix(msg, prefix(validation.MsgExpectedOneOf)) {
		key = keyFieldChoice
	} else if v, ok := strings.CutPrefix(msg, prefix(validation.MsgExpectedMinimumNumber)); ok {
		key, data = keyFieldMinimum, map[string]any{"Limit": v}
	} else if v, ok := strings.CutPrefix(msg, prefix(validation.MsgExpectedMaximumNumber)); ok {
		key, data = keyFieldMaximum, map[string]any{"Limit": v}
	} else if typeMessages[msg] {
		key = keyFieldType
	} else if errors.Is(err, huma.ErrUnknownContentType) || strings.Contains(msg, huma.ErrUnknownContentType.Error()) {
		key = keyUnsupportedType
	} else if status == http.StatusBadRequest && (d.Location == "body" || d.Location == "") {
		key = keyInvalidJSON
	}
	out.Message = loc.Message(key, data)
	return out
}

// intAfter parses the integer a one-%d format ends with.
func intAfter(msg, format string) (int, bool) {
	rest, ok := strings.CutPrefix(msg, prefix(format))
	if !ok {
		return 0, false
	}
	n, err := strconv.Atoi(rest)
	return n, err == nil
}

func joinLocation(base, name string) string {
	if base == "" || name == "" {
		return base + name
	}
	return base + "." + name
}
