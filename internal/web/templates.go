package web

import (
	"embed"
	"encoding/json"
	"fmt"
	"html/template"
	"io/fs"
	"maps"
	"path"
	"regexp"
	"slices"
	"strings"
	"sync"
	"text/template/parse"
	"time"
	"unicode"
	"unicode/utf8"

	"roster/internal/core"
	"roster/internal/i18n"
)

//go:embed templates/*.html
var templateFS embed.FS

// layoutFile holds the layouts and partials shared by every page.
const layoutFile = "templates/layout.html"

type pageTemplate = *template.Template

// pagesFor returns the pages of lang, parsing them on first use: a
// language's pages are a sixth of an idle server's heap, and most
// workspaces use one or two of the six. New parses the default language,
// which checks every template, so a later parse fails only as that one
// would have.
func (h *Handler) pagesFor(lang string) (map[string]pageTemplate, error) {
	if pages, ok := (*h.pages.Load())[lang]; ok {
		return pages, nil
	}
	h.pagesMu.Lock()
	defer h.pagesMu.Unlock()
	all := *h.pages.Load()
	if pages, ok := all[lang]; ok {
		return pages, nil
	}
	if !slices.Contains(i18n.Supported, lang) {
		return nil, fmt.Errorf("no pages in language %q", lang)
	}
	pages, err := h.parseLanguage(lang)
	if err != nil {
		return nil, err
	}
	next := maps.Clone(all)
	next[lang] = pages
	h.pages.Store(&next)
	return pages, nil
}

// parseLanguage builds the page templates of one language. Building them
// once keeps requests free of parsing.
func (h *Handler) parseLanguage(lang string) (map[string]pageTemplate, error) {
	files, err := fs.Glob(templateFS, "templates/*.html")
	if err != nil {
		return nil, fmt.Errorf("list templates: %w", err)
	}
	funcs := h.funcs(lang)
	base, err := template.New("").Funcs(funcs).ParseFS(templateFS, layoutFile)
	if err != nil {
		return nil, fmt.Errorf("parse layout: %w", err)
	}
	out := make(map[string]pageTemplate)
	for _, f := range files {
		if f == layoutFile {
			continue
		}
		name := strings.TrimSuffix(path.Base(f), ".html")
		clone, err := base.Clone()
		if err != nil {
			return nil, fmt.Errorf("clone layout: %w", err)
		}
		t, err := clone.ParseFS(templateFS, f)
		if err != nil {
			return nil, fmt.Errorf("parse %s: %w", f, err)
		}
		root := t.Lookup("layout")
		if root == nil {
			return nil, fmt.Errorf("%s: no layout template", f)
		}
		if err := checkReferences(t); err != nil {
			return nil, fmt.Errorf("%s: %w", f, err)
		}
		if foldTemplates {
			if _, err := foldConstants(root, funcs); err != nil {
				return nil, fmt.Errorf("%s: %w", f, err)
			}
		}
		out[name] = root
	}
	return out, nil
}

// checkReferences fails when a template calls {{template "x"}} for an x
// that is not defined, which html/template would only notice when the
// page is first rendered.
func checkReferences(t *template.Template) error {
	for _, tt := range t.Templates() {
		if tt.Tree == nil || tt.Tree.Root == nil {
			continue
		}
		var missing string
		walk(tt.Tree.Root, func(n parse.Node) {
			if tn, ok := n.(*parse.TemplateNode); ok && missing == "" && t.Lookup(tn.Name) == nil {
				missing = tn.Name
			}
		})
		if missing != "" {
			return fmt.Errorf("template %q refers to undefined template %q", tt.Name(), missing)
		}
	}
	return nil
}

func walk(n parse.Node, fn func(parse.Node)) {
	if n == nil {
		return
	}
	fn(n)
	switch n := n.(type) {
	case *parse.ListNode:
		if n == nil {
			return
		}
		for _, c := range n.Nodes {
			walk(c, fn)
		}
	case *parse.IfNode:
		walk(n.List, fn)
		walk(n.ElseList, fn)
	case *parse.RangeNode:
		walk(n.List, fn)
		walk(n.ElseList, fn)
	case *parse.WithNode:
		walk(n.List, fn)
		walk(n.ElseList, fn)
	}
}

// funcs are the template functions of one language.
func (h *Handler) funcs(lang string) template.FuncMap {
	l := h.loc(lang)
	m := template.FuncMap{
		"datetime":        func(loc *time.Location, t time.Time) string { return formatDateTime(lang, loc, t) },
		"date":            func(loc *time.Location, t time.Time) string { return formatDate(lang, loc, t) },
		"langName":        i18n.LanguageName,
		"languageOptions": languageOptions,
		"zoneOptions":     zoneOptions,
		"countries":       func() []country { return countries(lang) },
		"initials":        initials,
		"photoURL":        photoURL,
		"phone":           core.FormatPhone,
		"avatarClass":     avatarClass,
		"roleKey":         roleKey,
		"stateKey":        stateKey,
		"rightKey":        rightKey,
		"allRights":       func() []core.Right { return core.AllRights },
		"hasRight":        func(u *core.User, r core.Right) bool { return u.HasRight(r) },
		"linkify":         linkify,
		// Forms' errors are .Fields.name, a map index; field is for the
		// keys that are no identifiers ("totp.code").
		"field":        func(fields map[string]string, name string) string { return fields[name] },
		"disableForm":  disableForm,
		"twoFactorKey": twoFactorKey,
		"icon":         h.icon,
		"badgeCount":   badgeCount,
		"categoryIcon": categoryIcon,
		"noticeView": func(n *core.Notification, loc *time.Location, back string) noticeItem {
			return newNoticeItem(lang, n, loc, back)
		},
		"withDeliveries": func(item noticeItem, ds []*core.Delivery) noticeItem {
			item.Deliveries = deliveryLines(ds)
			return item
		},
		"categoryIconsJSON": func() string {
			buf, _ := json.Marshal(categoryIcons)
			return string(buf)
		},
		"pluralForms": func(key string) string { return h.pluralForms(lang, key) },
		"notifyKey":   notifyKey,
	}
	for k, f := range l.FuncMap() {
		m[k] = f
	}
	return m
}

// Date formats per language. Numeric dates avoid month names, which Go
// only knows in English; English keeps its usual short month.
var (
	dateTimeFormats = map[string]string{
		"en":    "Jan 2, 2006, 3:04 PM",
		"es":    "02/01/2006 15:04",
		"pt-BR": "02/01/2006 15:04",
		"id":    "02/01/2006 15.04",
		"tr":    "02.01.2006 15:04",
		"ru":    "02.01.2006 15:04",
	}
	dateFormats = map[string]string{
		"en":    "Jan 2, 2006",
		"es":    "02/01/2006",
		"pt-BR": "02/01/2006",
		"id":    "02/01/2006",
		"tr":    "02.01.2006",
		"ru":    "02.01.2006",
	}
)

func formatDateTime(lang string, loc *time.Location, t time.Time) string {
	return formatTime(dateTimeFormats, lang, loc, t)
}

func formatDate(lang string, loc *time.Location, t time.Time) string {
	return formatTime(dateFormats, lang, loc, t)
}

// formatTime writes t in loc with lang's layout from formats; a zero time
// is "" so that "never" needs no sentinel date on the page.
func formatTime(formats map[string]string, lang string, loc *time.Location, t time.Time) string {
	if t.IsZero() {
		return ""
	}
	if loc == nil {
		loc = time.UTC
	}
	f, ok := formats[lang]
	if !ok {
		f = formats[i18n.Fallback]
	}
	return t.In(loc).Format(f)
}

func loadLocation(tz string) *time.Location {
	if tz == "" {
		return time.UTC
	}
	if loc, ok := locations.Load(tz); ok {
		return loc.(*time.Location)
	}
	loc, err := time.LoadLocation(tz)
	if err != nil {
		return time.UTC
	}
	locations.Store(tz, loc)
	return loc
}

// locations keeps the zones loaded: time.LoadLocation reads and parses
// the zone's data on every call. Only valid names are kept, so the map is
// bounded by the zone database.
var locations sync.Map

// initials returns up to two capital letters from a name, for avatars.
func initials(name string) string {
	var out []rune
	for w := range strings.FieldsSeq(name) {
		r, _ := utf8.DecodeRuneInString(w)
		if unicode.IsLetter(r) || unicode.IsDigit(r) {
			out = append(out, unicode.ToUpper(r))
		}
		if len(out) == 2 {
			break
		}
	}
	if len(out) == 0 {
		return "?"
	}
	return string(out)
}

// photoURL is the versioned URL of u's photo at one of photo.Sizes, or ""
// when u has no photo and the initials avatar shows instead.
func photoURL(u *core.User, size int) string {
	if u == nil || u.PhotoVersion == 0 {
		return ""
	}
	return fmt.Sprintf("/photos/%d/%d/%d", u.ID, u.PhotoVersion, size)
}

// avatarColors is the number of avatar colour classes in app.css
// (.avatar-0 to .avatar-7); the CSP forbids inline styles, so colours are
// classes.
const avatarColors = 8

func avatarClass(id int64) string {
	n := id % avatarColors
	if n < 0 {
		n = -n
	}
	return fmt.Sprintf("avatar-%d", n)
}

func roleKey(r core.Role) string {
	if r == core.RoleAdmin {
		return i18n.Key("web.role.admin")
	}
	return i18n.Key("web.role.user")
}

func stateKey(s core.State) string {
	switch s {
	case core.StateActive:
		return i18n.Key("web.state.active")
	case core.StateInactive:
		return i18n.Key("web.state.inactive")
	default:
		return i18n.Key("web.state.removed")
	}
}

func rightKey(r core.Right) string {
	if r == core.RightProfileAccess {
		return i18n.Key("web.right.profile_access")
	}
	return string(r)
}

var urlPattern = regexp.MustCompile(`https?://[^\s<>"']+`)

// linkify escapes text and turns http(s) URLs into links, for showing
// plain-text mails in the dev outbox.
func linkify(text string) template.HTML {
	var b strings.Builder
	last := 0
	for _, m := range urlPattern.FindAllStringIndex(text, -1) {
		b.WriteString(template.HTMLEscapeString(text[last:m[0]]))
		u := strings.TrimRight(text[m[0]:m[1]], ".,;:!?)")
		esc := template.HTMLEscapeString(u)
		b.WriteString(`<a href="` + esc + `" rel="noreferrer">` + esc + `</a>`)
		b.WriteString(template.HTMLEscapeString(text[m[0]+len(u) : m[1]]))
		last = m[1]
	}
	b.WriteString(template.HTMLEscapeString(text[last:]))
	return template.HTML(b.String()) //nolint:gosec // every piece is escaped above
}
