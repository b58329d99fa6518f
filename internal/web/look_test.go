package web

import (
	"io/fs"
	"math"
	"net/http"
	"regexp"
	"roster/internal/store"
	"roster/internal/store/storetest"
	"strconv"
	"strings"
	"testing"
)

// iconHTML is what {{icon name}} renders.
func iconHTML(t *testing.T, h *Handler, name string) string {
	t.Helper()
	s, err := h.icon(name)
	if err != nil {
		t.Fatal(err)
	}
	return string(s)
}

var iconUseRE = regexp.MustCompile(`\{\{icon "([a-z-]+)"\}\}`)

// TestIconSprite: the icons are one SVG sprite embedded in the binary and
// served under a content-hashed name; every icon a template or the settings
// navigation names exists in it; each navigation item shows its icon,
// hidden from screen readers (the text says the same).
func TestIconSprite(t *testing.T) {
	e := newEnv(t, storetest.Open(t, store.SQLite))
	u := e.h.StaticURL("icons.svg")
	if !regexp.MustCompile(`^/static/icons\.[0-9a-f]{8}\.svg$`).MatchString(u) {
		t.Fatalf("StaticURL(icons.svg) = %q", u)
	}
	w := e.get(u, "")
	wantStatus(t, w, http.StatusOK)
	if ct := w.Header().Get("Content-Type"); ct != "image/svg+xml" {
		t.Errorf("Content-Type %q", ct)
	}
	for _, name := range []string{"user", "shield", "bell", "users", "lock", "list", "key", "mail", "on", "off", "warning"} {
		if !strings.Contains(w.Body.String(), `<symbol id="`+name+`"`) {
			t.Errorf("sprite lacks %q", name)
		}
	}
	if _, err := e.h.icon("no-such-icon"); err == nil {
		t.Error("an unknown icon rendered")
	}
	files, err := fs.Glob(templateFS, "templates/*.html")
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range files {
		b, err := fs.ReadFile(templateFS, f)
		if err != nil {
			t.Fatal(err)
		}
		for _, m := range iconUseRE.FindAllStringSubmatch(string(b), -1) {
			if _, err := e.h.icon(m[1]); err != nil {
				t.Errorf("%s: %v", f, err)
			}
		}
	}

	e.setup("en")
	admin := e.login("ada@acme.test")
	w = e.get("/settings/users", admin)
	wantStatus(t, w, http.StatusOK)
	icon := iconHTML(t, e.h, "shield")
	wantContains(t, w, `<a href="/settings/security">`+icon+`<span>Security</span></a>`,
		`<svg class="icon" aria-hidden="true" focusable="false"><use href="`+u+`#users"></use></svg>`,
		`<span class="status status-off">`+iconHTML(t, e.h, "off")+`Off</span>`)
	// Every navigation item (admins see them all) names an icon of the
	// sprite: an unknown one would have failed the render above.
	if got := strings.Count(w.Body.String(), `<svg class="icon"`); got < 7 {
		t.Errorf("%d icons on the users page", got)
	}
}

// TestStylesheetContrastAndTheme: white initials on every avatar colour
// reach 4.5:1 (WCAG AA), the 404 status is not the faint border grey, links
// in hint text are underlined, and a dark theme follows the system setting.
func TestStylesheetContrastAndTheme(t *testing.T) {
	css, err := fs.ReadFile(staticFS, "static/app.css")
	if err != nil {
		t.Fatal(err)
	}
	s := string(css)
	avatars := regexp.MustCompile(`\.avatar-(\d) \{ background: #([0-9a-f]{6}); \}`).FindAllStringSubmatch(s, -1)
	if len(avatars) != avatarColours {
		t.Fatalf("found %d avatar colours, want %d", len(avatars), avatarColours)
	}
	for _, m := range avatars {
		if c := contrast(m[2], "ffffff"); c < 4.5 {
			t.Errorf(".avatar-%s #%s: contrast with white %.2f < 4.5", m[1], m[2], c)
		}
	}
	if !regexp.MustCompile(`\.error-status \{[^}]*color: var\(--muted\)`).MatchString(s) {
		t.Error(".error-status is not in the muted text colour")
	}
	if !regexp.MustCompile(`\.hint a[^{]*\{[^}]*text-decoration: underline`).MatchString(s) &&
		!regexp.MustCompile(`\.hint a \{[^}]*text-decoration: underline`).MatchString(s) {
		t.Error("links in hints are not underlined")
	}
	dark := regexp.MustCompile(`(?s)@media \(prefers-color-scheme: dark\) \{\s*:root \{(.*?)\}`).FindStringSubmatch(s)
	if dark == nil {
		t.Fatal("no dark theme")
	}
	vars := func(block string) map[string]string {
		out := map[string]string{}
		for _, m := range regexp.MustCompile(`--([a-z-]+): (#[0-9a-f]{6});`).FindAllStringSubmatch(block, -1) {
			out[m[1]] = m[2][1:]
		}
		return out
	}
	light := vars(s[:strings.Index(s, "@media (prefers-color-scheme: dark)")])
	d := vars(dark[1])
	for name, theme := range map[string]map[string]string{"light": light, "dark": d} {
		for _, pair := range [][2]string{{"text", "surface"}, {"muted", "surface"}, {"muted", "bg"}, {"accent", "surface"},
			{"on-accent", "accent"}, {"danger", "surface"}, {"success", "surface"}, {"warn", "warn-soft"}, {"accent", "accent-soft"},
			{"error-text", "danger-soft"}, {"success-text", "success-soft"}} {
			fg, bg := theme[pair[0]], theme[pair[1]]
			if fg == "" || bg == "" {
				t.Errorf("%s theme lacks --%s or --%s", name, pair[0], pair[1])
				continue
			}
			if c := contrast(fg, bg); c < 4.5 {
				t.Errorf("%s theme: --%s on --%s contrast %.2f < 4.5", name, pair[0], pair[1], c)
			}
		}
	}
	if light["surface"] == d["surface"] {
		t.Error("the dark theme keeps the light surface")
	}
	layout, err := fs.ReadFile(templateFS, layoutFile)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(layout), `<meta name="color-scheme" content="light dark">`) {
		t.Error("the layout does not announce both colour schemes")
	}
}

// avatarColours is how many .avatar-N classes avatarClass picks from.
var avatarColours = func() int {
	seen := map[string]bool{}
	for id := int64(1); id < 100; id++ {
		seen[avatarClass(id)] = true
	}
	return len(seen)
}()

// contrast is the WCAG contrast ratio of two "rrggbb" colours.
func contrast(a, b string) float64 {
	lum := func(hex string) float64 {
		var c [3]float64
		for i := range c {
			v, _ := strconv.ParseUint(hex[2*i:2*i+2], 16, 8)
			x := float64(v) / 255
			if x <= 0.03928 {
				c[i] = x / 12.92
			} else {
				c[i] = math.Pow((x+0.055)/1.055, 2.4)
			}
		}
		return 0.2126*c[0] + 0.7152*c[1] + 0.0722*c[2]
	}
	la, lb := lum(a), lum(b)
	if la < lb {
		la, lb = lb, la
	}
	return (la + 0.05) / (lb + 0.05)
}
