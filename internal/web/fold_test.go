package web

import (
	"bytes"
	"html/template"
	"log/slog"
	"maps"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"

	"roster/internal/core"
	"roster/internal/i18n"
	"roster/internal/store"
	"roster/internal/store/storetest"
)

// TestFoldedPagesMatch: every page, in every language, is byte for byte
// what it is without constant folding, and folding does fold.
func TestFoldedPagesMatch(t *testing.T) {
	e := newEnv(t, storetest.Open(t, store.SQLite))
	admin := e.setup("en")
	cookie := e.login(admin.Email)
	member := e.createUser("Acme", "Bea Lima", "bea@acme.test", core.RoleUser)
	e.seed(admin, admin, "task.assigned", 3)

	foldTemplates = false
	plain, err := e.h.parseTemplates()
	foldTemplates = true
	if err != nil {
		t.Fatal(err)
	}
	folded, err := e.h.parseTemplates()
	if err != nil {
		t.Fatal(err)
	}
	// Most of the profile page's translations and icons fold (counted on
	// a copy: a template cannot be copied once rendered).
	root := plain["en"]["profile"]
	clone, err := root.Clone()
	if err != nil {
		t.Fatal(err)
	}
	n, err := foldConstants(clone, e.h.funcs("en"))
	if err != nil || n < 50 {
		t.Fatalf("folded %d actions of the profile page (%v), want at least 50", n, err)
	}
	paths := []string{"/settings/profile", "/settings/security", "/settings/notifications", "/notifications",
		"/settings/notifications/defaults", "/settings/tokens", "/settings/users", "/settings/users/" + strconv.FormatInt(member.ID, 10),
		"/settings/audit", "/settings/outbox", "/settings/workspace-security", "/no-such-page"}
	for _, lang := range i18n.Supported {
		e.update(admin, func(u *core.User) { u.Language = lang })
		for _, path := range paths {
			e.h.pages.Store(&folded)
			a := e.get(path, cookie)
			e.h.pages.Store(&plain)
			b := e.get(path, cookie)
			e.h.pages.Store(&folded)
			if a.Code != b.Code || a.Body.String() != b.Body.String() {
				t.Fatalf("%s %s: folded page (%d) differs from the plain one (%d):\n%s\n----\n%s", lang, path, a.Code, b.Code, a.Body, b.Body)
			}
		}
	}
	// The login page, signed out.
	if a, b := e.get("/login", ""), e.get("/login", ""); a.Body.String() != b.Body.String() {
		t.Fatal("login page differs between renders")
	}

}

// TestPagesParsedOnFirstUse: a new handler holds the default language's
// pages only; the first pages asked for in another language are parsed
// then, once, however many ask at the same moment.
func TestPagesParsedOnFirstUse(t *testing.T) {
	e := newEnv(t, storetest.Open(t, store.SQLite))
	admin := e.setup("en")
	cookie := e.login(admin.Email)
	if got := slices.Collect(maps.Keys(*e.h.pages.Load())); !slices.Equal(got, []string{i18n.Fallback}) {
		t.Fatalf("languages parsed at start: %v", got)
	}
	e.update(admin, func(u *core.User) { u.Language = "tr" })
	var wg sync.WaitGroup
	bodies := make([]string, 8)
	for i := range bodies {
		wg.Go(func() { bodies[i] = e.get("/settings/profile", cookie).Body.String() })
	}
	wg.Wait()
	for _, b := range bodies {
		if !strings.Contains(b, `lang="tr"`) || b != bodies[0] {
			t.Fatalf("first Turkish pages differ or are not Turkish:\n%.300s", b)
		}
	}
	if n := len(*e.h.pages.Load()); n != 2 {
		t.Fatalf("%d languages parsed, want 2", n)
	}
	if _, err := e.h.pagesFor("xx"); err == nil {
		t.Fatal("pages of an unknown language")
	}
}

// parseTemplates builds the pages of every language at once, as the
// handler would once each had been asked for.
func (h *Handler) parseTemplates() (map[string]map[string]pageTemplate, error) {
	out := make(map[string]map[string]pageTemplate, len(i18n.Supported))
	for _, lang := range i18n.Supported {
		pages, err := h.parseLanguage(lang)
		if err != nil {
			return nil, err
		}
		out[lang] = pages
	}
	return out, nil
}

// TestParsingPagesLogsNothing: making a language's pages (at start for
// the default one) warns of no translation problem: the escaping run that
// precedes folding stops at once instead of running every page on nil.
func TestParsingPagesLogsNothing(t *testing.T) {
	var logged bytes.Buffer
	prev := slog.Default()
	slog.SetDefault(slog.New(slog.NewTextHandler(&logged, nil)))
	defer slog.SetDefault(prev)
	e := newEnv(t, storetest.Open(t, store.SQLite))
	for _, lang := range i18n.Supported {
		if _, err := e.h.pagesFor(lang); err != nil {
			t.Fatal(err)
		}
	}
	if strings.Contains(logged.String(), "i18n") {
		t.Fatalf("parsing pages logged:\n%s", logged.String())
	}
}

// TestNavHTMLIsTheTemplates: the settings navigation made in Go is byte
// for byte what its template printed, in every language, with and without
// an active item, and it is made once per language and items.
func TestNavHTMLIsTheTemplates(t *testing.T) {
	e := newEnv(t, storetest.Open(t, store.SQLite))
	items := []navItem{
		{Key: "web.nav.profile", URL: "/settings/profile", Icon: "user"},
		{Key: "web.nav.security", URL: "/settings/security", Icon: "shield", Active: true},
		{Key: "web.nav.users", URL: "/settings/users", Icon: "users"},
		{Key: "web.nav.deliveries", URL: deliveriesURL, Icon: "bell"},
		{Key: "web.nav.tokens", URL: "/settings/tokens", Icon: "key"},
	}
	for _, lang := range i18n.Supported {
		tpl := template.Must(template.New("nav").Funcs(e.h.funcs(lang)).Parse(
			`{{range .}}<li><a href="{{.URL}}"{{if .Active}} class="active" aria-current="page"{{end}}>{{icon .Icon}}<span>{{t .Key}}</span></a></li>
      {{end}}`))
		for _, set := range [][]navItem{items, items[2:]} {
			var want bytes.Buffer
			if err := tpl.Execute(&want, set); err != nil {
				t.Fatal(err)
			}
			if got := e.h.navHTML(lang, set); string(got) != want.String() {
				t.Fatalf("%s: navigation\n%s\nwant\n%s", lang, got, want.String())
			}
		}
	}
	e.h.navHTML("en", items)
	n := 0
	e.h.navs.Range(func(_, _ any) bool { n++; return true })
	if m := len(i18n.Supported) * 2; n != m {
		t.Fatalf("%d navigations kept, want %d", n, m)
	}
}
