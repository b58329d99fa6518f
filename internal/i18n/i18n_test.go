package i18n

import (
	"bytes"
	"html/template"
	"io/fs"
	"log/slog"
	"maps"
	"os"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"testing"
	"testing/fstest"

	goi18n "github.com/nicksnyder/go-i18n/v2/i18n"
	"golang.org/x/text/language"
)

func mustBundle(t *testing.T) *Bundle {
	t.Helper()
	b, err := New()
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	return b
}

var categoryOrder = []string{"zero", "one", "two", "few", "many", "other"}

// pluralCategories asks go-i18n's own plural rules which CLDR categories
// each supported language uses, by localizing a probe message that names
// its category for many integer and decimal counts.
func pluralCategories(t *testing.T) map[string][]string {
	t.Helper()
	counts := []any{}
	for i := range 2001 {
		counts = append(counts, i)
	}
	counts = append(counts, 1000000, 2000000, 1000000000,
		"0.0", "0.5", "1.0", "1.5", "2.5", "5.5", "21.3", "1e6", "1.5e6", "2e3")
	out := make(map[string][]string)
	for _, lang := range Supported {
		tag := language.MustParse(lang)
		bundle := goi18n.NewBundle(tag)
		bundle.MustAddMessages(tag, &goi18n.Message{ID: "probe",
			Zero: "zero", One: "one", Two: "two", Few: "few", Many: "many", Other: "other"})
		loc := goi18n.NewLocalizer(bundle, lang)
		seen := make(map[string]bool)
		for _, c := range counts {
			s, err := loc.Localize(&goi18n.LocalizeConfig{MessageID: "probe", PluralCount: c})
			if err != nil {
				t.Fatalf("probe %s %v: %v", lang, c, err)
			}
			seen[s] = true
		}
		for _, cat := range categoryOrder {
			if seen[cat] {
				out[lang] = append(out[lang], cat)
			}
		}
	}
	return out
}

// TestPluralRules pins the categories go-i18n reports, so an upgrade that
// changes CLDR data shows up here and the catalogs get updated with it.
func TestPluralRules(t *testing.T) {
	want := map[string][]string{
		"en":    {"one", "other"},
		"es":    {"one", "many", "other"},
		"pt-BR": {"one", "many", "other"},
		"id":    {"other"},
		"tr":    {"one", "other"},
		"ru":    {"one", "few", "many", "other"},
	}
	got := pluralCategories(t)
	for _, lang := range Supported {
		if !slices.Equal(got[lang], want[lang]) {
			t.Errorf("%s plural categories = %v, want %v", lang, got[lang], want[lang])
		}
	}
	for _, c := range []string{"one", "few", "many"} {
		if !slices.Contains(got["ru"], c) {
			t.Errorf("ru must use plural category %q", c)
		}
	}
}

var templateVar = regexp.MustCompile(`\{\{-?\s*\.([A-Za-z_][A-Za-z0-9_]*)`)

func vars(forms map[string]string) map[string]bool {
	out := make(map[string]bool)
	for _, s := range forms {
		for _, m := range templateVar.FindAllStringSubmatch(s, -1) {
			out[m[1]] = true
		}
	}
	return out
}

// TestCatalogsComplete checks that every key of any catalog is translated,
// non-empty, in all six languages, with every plural category the
// language needs, and uses only the template data English uses.
func TestCatalogsComplete(t *testing.T) {
	b := mustBundle(t)
	cats := pluralCategories(t)
	keys := b.AllKeys()
	if len(keys) == 0 {
		t.Fatal("no messages loaded")
	}
	for _, key := range keys {
		plural := false
		for _, lang := range Supported {
			if m := b.Message(lang, key); m != nil {
				for form := range PluralForms(m) {
					if form != "other" {
						plural = true
					}
				}
			}
		}
		en := b.Message("en", key)
		for _, lang := range Supported {
			m := b.Message(lang, key)
			if m == nil {
				t.Errorf("%s: missing in %s (defined in %v)", key, lang, slices.Sorted(maps.Values(b.files[key])))
				continue
			}
			forms := PluralForms(m)
			need := []string{"other"}
			if plural {
				need = cats[lang]
			}
			for _, c := range need {
				if strings.TrimSpace(forms[c]) == "" {
					t.Errorf("%s [%s]: plural category %q is missing or empty", key, lang, c)
				}
			}
			for c := range forms {
				if !slices.Contains(need, c) {
					t.Errorf("%s [%s]: has category %q that %s does not use", key, lang, c, lang)
				}
			}
			if en == nil {
				continue
			}
			enVars, langVars := vars(PluralForms(en)), vars(forms)
			for v := range langVars {
				if !enVars[v] {
					t.Errorf("%s [%s]: uses {{.%s}} which English does not", key, lang, v)
				}
			}
			if !plural {
				for v := range enVars {
					if !langVars[v] {
						t.Errorf("%s [%s]: lacks {{.%s}}", key, lang, v)
					}
				}
			}
		}
	}
}

// TestEveryAreaHasAllLanguages checks the one-file-per-language layout.
func TestEveryAreaHasAllLanguages(t *testing.T) {
	entries, err := fs.ReadDir(catalogFS, "locales")
	if err != nil {
		t.Fatal(err)
	}
	areas := make(map[string]map[string]bool)
	for _, e := range entries {
		area, lang, ok := splitCatalogName(e.Name())
		if !ok {
			t.Errorf("bad catalog name %s", e.Name())
			continue
		}
		if areas[area] == nil {
			areas[area] = make(map[string]bool)
		}
		areas[area][lang] = true
	}
	for _, want := range []string{"common", "errors"} {
		if areas[want] == nil {
			t.Errorf("area %q missing", want)
		}
	}
	for area, langs := range areas {
		for _, lang := range Supported {
			if !langs[lang] {
				t.Errorf("locales/%s.%s.json missing", area, lang)
			}
		}
	}
}

// TestInactiveAccountLooksLikeFailedLogin guards against revealing which
// accounts exist but are disabled.
func TestInactiveAccountLooksLikeFailedLogin(t *testing.T) {
	b := mustBundle(t)
	for _, lang := range Supported {
		l := b.Localizer(lang)
		if a, f := l.T("errors.account_inactive"), l.T("errors.login_failed"); a != f {
			t.Errorf("%s: account_inactive %q != login_failed %q", lang, a, f)
		}
	}
}

// TestUsedKeysExist checks that every key named by templates or Go code
// under internal/ exists in the catalogs.
func TestUsedKeysExist(t *testing.T) {
	b := mustBundle(t)
	if _, err := os.Stat("../web/templates"); err != nil {
		t.Logf("../web/templates not present (%v); scanning the rest of internal/ only", err)
	}
	used, err := UsedKeys(os.DirFS(".."))
	if err != nil {
		t.Fatal(err)
	}
	known := make(map[string]bool)
	for _, k := range b.Keys() {
		known[k] = true
	}
	missing := 0
	for _, key := range slices.Sorted(maps.Keys(used)) {
		if !known[key] {
			missing++
			t.Errorf("key %q used in %v is in no English catalog", key, used[key])
		}
	}
	t.Logf("%d keys in use, %d missing", len(used), missing)
}

func TestUsedKeysScanner(t *testing.T) {
	fsys := fstest.MapFS{
		"web/templates/login.html": {Data: []byte(`<h1>{{t "login.title"}}</h1>
<p>{{ t "login.hello" "Name" .User.Name }}</p>
<p>{{- tn "common.users.count" .N -}}</p>
<p>{{printf "%s" (t "login.nested")}}</p>
<p>Don't "quote.this" or t "not.in.action"</p>
{{template "base.layout" .}}`)},
		"mail/invite.txt":         {Data: []byte(`{{t "mail.invite.subject"}}`)},
		"mail/other.tmpl":         {Data: []byte("{{t `mail.raw.key`}}")},
		"auth/service.go":         {Data: []byte(`l.T("errors.login_failed"); loc.N("errors.field.too_long", 3); i18n.Key("errors.invalid"); t.Run("no.match", nil); T("nodot")`)},
		"auth/service_test.go":    {Data: []byte(`l.T("test.only.key")`)},
		"auth/testdata/x.html":    {Data: []byte(`{{t "testdata.key"}}`)},
		".hidden/x.html":          {Data: []byte(`{{t "hidden.key"}}`)},
		"web/static/app.js":       {Data: []byte(`T("js.key")`)},
		"web/templates/dup.html":  {Data: []byte(`{{t "login.title"}}`)},
		"web/templates/empty.txt": {Data: nil},
	}
	got, err := UsedKeys(fsys)
	if err != nil {
		t.Fatal(err)
	}
	want := map[string][]string{
		"login.title":           {"web/templates/dup.html", "web/templates/login.html"},
		"login.hello":           {"web/templates/login.html"},
		"common.users.count":    {"web/templates/login.html"},
		"login.nested":          {"web/templates/login.html"},
		"mail.invite.subject":   {"mail/invite.txt"},
		"mail.raw.key":          {"mail/other.tmpl"},
		"errors.login_failed":   {"auth/service.go"},
		"errors.field.too_long": {"auth/service.go"},
		"errors.invalid":        {"auth/service.go"},
	}
	if len(got) != len(want) {
		t.Errorf("got %d keys %v, want %d", len(got), slices.Sorted(maps.Keys(got)), len(want))
	}
	for k, files := range want {
		if !slices.Equal(got[k], files) {
			t.Errorf("%s: files %v, want %v", k, got[k], files)
		}
	}
}

func TestNegotiate(t *testing.T) {
	b := mustBundle(t)
	tests := []struct {
		header, fallback, want string
	}{
		{"", "en", "en"},
		{"", "ru", "ru"},
		{"", "xx", "en"},
		{"", "pt", "en"}, // fallback must be exactly supported
		{"es", "en", "es"},
		{"es-MX,es;q=0.9,en;q=0.8", "en", "es"},
		{"fr-FR,fr;q=0.9,ru;q=0.8,en;q=0.5", "en", "ru"},
		{"en;q=0.2,tr;q=0.9", "en", "tr"},
		{"ru;q=0.5, id;q=0.7", "en", "id"},
		{"pt-PT", "en", "pt-BR"},
		{"pt", "en", "pt-BR"},
		{"pt-br", "en", "pt-BR"},
		{"pt_BR", "en", "pt-BR"},
		{"in", "en", "id"}, // deprecated code for Indonesian
		{"id-ID,en;q=0.1", "en", "id"},
		{"de,fr;q=0.8", "tr", "tr"},
		{"de,fr;q=0.8", "xx", "en"},
		{"*", "es", "es"},
		{"ru;q=0,es", "en", "es"},
		{"ru;q=0", "en", "en"},
		{"tr;q=abc,es;q=0.1", "en", "es"},
		{";;;,,,===", "ru", "ru"},
		{"\x00\xff garbage !!", "es", "es"},
		{strings.Repeat("x-invalid-,", 500) + "ru", "en", "en"}, // beyond the entry limit
		{"zh-Hant-TW, ja;q=0.9", "id", "id"},
		{"en-GB;q=0.8, es-419;q=0.9", "en", "es"},
	}
	for _, tt := range tests {
		if got := b.Negotiate(tt.header, tt.fallback); got != tt.want {
			t.Errorf("Negotiate(%q, %q) = %q, want %q", tt.header, tt.fallback, got, tt.want)
		}
	}
}

func TestLocalizerChoosesLanguage(t *testing.T) {
	b := mustBundle(t)
	tests := []struct {
		langs []string
		want  string
	}{
		{nil, "en"},
		{[]string{""}, "en"},
		{[]string{"ru"}, "ru"},
		{[]string{"de", "pt-PT", "ru"}, "pt-BR"},
		{[]string{"es-MX"}, "es"},
		{[]string{"xx-invalid!", "tr-TR"}, "tr"},
		{[]string{"fr"}, "en"},
		{[]string{"en-US", "ru"}, "en"},
	}
	for _, tt := range tests {
		if got := b.Localizer(tt.langs...).Lang(); got != tt.want {
			t.Errorf("Localizer(%q).Lang() = %q, want %q", tt.langs, got, tt.want)
		}
	}
	want := map[string]string{"en": "Save", "es": "Guardar", "pt-BR": "Salvar", "id": "Simpan", "tr": "Kaydet", "ru": "Сохранить"}
	for lang, w := range want {
		if got := b.Localizer(lang).T("common.save"); got != w {
			t.Errorf("%s common.save = %q, want %q", lang, got, w)
		}
	}
}

func TestRussianPlurals(t *testing.T) {
	l := mustBundle(t).Localizer("ru")
	tests := map[int]string{
		0:   "0 пользователей",
		1:   "1 пользователь",
		2:   "2 пользователя",
		4:   "4 пользователя",
		5:   "5 пользователей",
		11:  "11 пользователей",
		12:  "12 пользователей",
		21:  "21 пользователь",
		22:  "22 пользователя",
		111: "111 пользователей",
	}
	// Twice: the second answer is the one kept per key and count.
	for range 2 {
		for n, want := range tests {
			if got := l.N("common.users.count", n); got != want {
				t.Errorf("N(common.users.count, %d) = %q, want %q", n, got, want)
			}
		}
	}
	if got, want := l.N("errors.too_many_requests", 21), "Слишком много попыток. Повторите через 21 секунду."; got != want {
		t.Errorf("too_many_requests 21 = %q, want %q", got, want)
	}
}

func TestOtherPlurals(t *testing.T) {
	b := mustBundle(t)
	tests := []struct {
		lang  string
		count int
		want  string
	}{
		{"en", 1, "1 user"},
		{"en", 0, "0 users"},
		{"en", 2, "2 users"},
		{"es", 1, "1 usuario"},
		{"es", 3, "3 usuarios"},
		{"es", 1000000, "1000000 de usuarios"},
		{"pt-BR", 0, "0 usuário"},
		{"pt-BR", 2, "2 usuários"},
		{"id", 1, "1 pengguna"},
		{"tr", 5, "5 kullanıcı"},
	}
	for _, tt := range tests {
		if got := b.Localizer(tt.lang).N("common.users.count", tt.count); got != tt.want {
			t.Errorf("%s N(%d) = %q, want %q", tt.lang, tt.count, got, tt.want)
		}
	}
}

func TestMissingKeyReturnsKeyAndWarnsOnce(t *testing.T) {
	buf := captureLog(t)

	l := mustBundle(t).Localizer("es")
	for range 3 {
		if got := l.T("no.such.key"); got != "no.such.key" {
			t.Fatalf("T(missing) = %q", got)
		}
		if got := l.N("no.such.plural", 2); got != "no.such.plural" {
			t.Fatalf("N(missing) = %q", got)
		}
	}
	if n := strings.Count(buf.String(), "key=no.such.key"); n != 1 {
		t.Errorf("warning logged %d times, want 1:\n%s", n, buf.String())
	}
}

func TestFallbackToEnglishPerMessage(t *testing.T) {
	fsys := fstest.MapFS{
		"loc/a.en.json": {Data: []byte(`{"a.one": "One", "a.two": "Two {{.Name}}"}`)},
		"loc/a.ru.json": {Data: []byte(`{"a.one": "Один"}`)},
	}
	b, err := load(fsys, "loc")
	if err != nil {
		t.Fatal(err)
	}
	l := b.Localizer("ru")
	if got := l.T("a.one"); got != "Один" {
		t.Errorf("a.one = %q", got)
	}
	if got := l.T("a.two", map[string]any{"Name": "Ann"}); got != "Two Ann" {
		t.Errorf("a.two = %q, want English fallback", got)
	}
	if got := b.Keys(); !slices.Equal(got, []string{"a.one", "a.two"}) {
		t.Errorf("Keys = %v", got)
	}
}

func TestLoadRejectsBadCatalogs(t *testing.T) {
	tests := map[string]fstest.MapFS{
		"bad json":         {"loc/a.en.json": {Data: []byte(`{"a.b": "x",}`)}},
		"bad template":     {"loc/a.en.json": {Data: []byte(`{"a.b": "Hi {{.Name}"}`)}},
		"mixed keys":       {"loc/a.en.json": {Data: []byte(`{"a.b": {"one": "x", "foo": "y"}}`)}},
		"unsupported lang": {"loc/a.de.json": {Data: []byte(`{"a.b": "x"}`)}},
		"no area":          {"loc/en.json": {Data: []byte(`{"a.b": "x"}`)}},
		"top-level string": {"loc/a.en.json": {Data: []byte(`"x"`)}},
		"duplicate id": {
			"loc/a.en.json": {Data: []byte(`{"a.b": "x"}`)},
			"loc/b.en.json": {Data: []byte(`{"a.b": "y"}`)},
		},
	}
	for name, fsys := range tests {
		if _, err := load(fsys, "loc"); err == nil {
			t.Errorf("%s: load succeeded, want error", name)
		}
	}
}

func TestTemplateFuncs(t *testing.T) {
	b := mustBundle(t)
	l := b.Localizer("ru")
	tpl := template.Must(template.New("x").Funcs(template.FuncMap{"t": l.Func(), "tn": l.NFunc()}).Parse(
		`{{t "common.save"}}|{{tn "common.users.count" 3}}|{{tn "common.users.count" .N}}|{{tn "errors.field.too_long" .N64 "Extra" "ignored"}}|{{t "no.such" "A"}}`))
	var out bytes.Buffer
	if err := tpl.Execute(&out, map[string]any{"N": 5, "N64": int64(21)}); err != nil {
		t.Fatal(err)
	}
	want := "Сохранить|3 пользователя|5 пользователей|Максимум 21 символ.|no.such"
	if out.String() != want {
		t.Errorf("rendered %q, want %q", out.String(), want)
	}

	// Template data passes through name/value pairs and is escaped by
	// html/template afterwards.
	fsys := fstest.MapFS{"loc/a.en.json": {Data: []byte(`{"a.hi": "Hello, {{.Name}}!"}`)}}
	tb, err := load(fsys, "loc")
	if err != nil {
		t.Fatal(err)
	}
	tpl = template.Must(template.New("y").Funcs(tb.Localizer("en").FuncMap()).Parse(`{{t "a.hi" "Name" .}}`))
	out.Reset()
	if err := tpl.Execute(&out, "<b>Ann</b>"); err != nil {
		t.Fatal(err)
	}
	if want := "Hello, &lt;b&gt;Ann&lt;/b&gt;!"; out.String() != want {
		t.Errorf("rendered %q, want %q", out.String(), want)
	}
}

func TestNSetsCountAndKeepsData(t *testing.T) {
	fsys := fstest.MapFS{"loc/a.en.json": {Data: []byte(`{"a.n": {"one": "{{.Name}} has {{.Count}} item", "other": "{{.Name}} has {{.Count}} items"}}`)}}
	b, err := load(fsys, "loc")
	if err != nil {
		t.Fatal(err)
	}
	if got, want := b.Localizer("en").N("a.n", 4, map[string]any{"Name": "Ann"}), "Ann has 4 items"; got != want {
		t.Errorf("N = %q, want %q", got, want)
	}
}

func TestKeysSortedEnglish(t *testing.T) {
	keys := mustBundle(t).Keys()
	if !sort.StringsAreSorted(keys) {
		t.Error("Keys not sorted")
	}
	for _, k := range []string{"common.app_name", "common.users.count", "errors.setup_done", "errors.field.too_short"} {
		if !slices.Contains(keys, k) {
			t.Errorf("Keys lacks %q", k)
		}
	}
}

func TestLanguageNamesAndSupport(t *testing.T) {
	want := []string{"English", "Español", "Português (Brasil)", "Bahasa Indonesia", "Türkçe", "Русский"}
	for i, lang := range Supported {
		if !IsSupported(lang) {
			t.Errorf("IsSupported(%q) = false", lang)
		}
		if got := LanguageName(lang); got != want[i] {
			t.Errorf("LanguageName(%q) = %q, want %q", lang, got, want[i])
		}
	}
	for _, lang := range []string{"", "pt", "EN", "de", "pt-PT"} {
		if IsSupported(lang) {
			t.Errorf("IsSupported(%q) = true", lang)
		}
	}
	if got := LanguageName("de"); got != "de" {
		t.Errorf("LanguageName(de) = %q", got)
	}
	if Key("x.y") != "x.y" {
		t.Error("Key must return its argument")
	}
}

// TestLanguagesMadeOnFirstUse: only English, every language's fallback, is
// compiled at start; another language's messages are compiled when it is
// first asked for, once however many ask at the same time.
func TestLanguagesMadeOnFirstUse(t *testing.T) {
	b, err := New()
	if err != nil {
		t.Fatal(err)
	}
	for _, lang := range Supported {
		if made := b.byLang[lang].loc != nil; made != (lang == Fallback) {
			t.Errorf("%s compiled at start: %v", lang, made)
		}
	}
	var wg sync.WaitGroup
	got := make([]string, 8)
	for i := range got {
		wg.Go(func() { got[i] = b.Localizer("tr").T("common.save") })
	}
	wg.Wait()
	if got[0] != "Kaydet" || len(slices.Compact(slices.Clone(got))) != 1 {
		t.Fatalf("Turkish on first use: %q", got)
	}
	if b.byLang["tr"].loc == nil || b.byLang["es"].loc != nil {
		t.Fatal("Turkish not kept, or Spanish made unasked")
	}
}

// TestKeptMessagesAreBounded: messages rendered from keys made of outside
// input, and the warnings for them, stop being kept at maxPlain per
// language and for the bundle: the server's memory and log do not grow
// with them.
func TestKeptMessagesAreBounded(t *testing.T) {
	buf := captureLog(t)

	// From 8 goroutines at once: the bound is an atomic count, not a
	// check-then-store.
	l := mustBundle(t).Localizer("tr")
	var wg sync.WaitGroup
	for g := range 8 {
		wg.Go(func() {
			for i := g; i < maxPlain+50; i += 8 {
				key := "made.up." + strconv.Itoa(i)
				if got := l.T(key); got != key {
					t.Errorf("T(%q) = %q", key, got)
				}
				if got := l.N("counted.made.up", i); got != "counted.made.up" {
					t.Errorf("N(counted.made.up, %d) = %q", i, got)
				}
			}
		})
	}
	wg.Wait()
	if n := length(&l.plain.m); n != maxPlain {
		t.Errorf("plain messages kept: %d, want the bound %d", n, maxPlain)
	}
	if n := length(&l.counted.m); n != maxPlain {
		t.Errorf("counted messages kept: %d, want the bound %d", n, maxPlain)
	}
	// The goroutines' first warnings race on the same plural key, and
	// each racer counts against the bound: up to 7 fewer kept, never more.
	warned := length(&l.bundle.warned.m)
	if warned > maxPlain || warned < maxPlain-7 {
		t.Errorf("warnings remembered: %d, want the bound %d (or up to 7 under)", warned, maxPlain)
	}
	// Each remembered missing key is logged once (the plural one among
	// them), a key past the bound not at all.
	if n := strings.Count(buf.String(), "key=made.up."); n != warned-1 {
		t.Errorf("missing keys logged %d times, want %d", n, warned-1)
	}
	// Kept messages are still served, and one seen before is not logged
	// again.
	buf.Reset()
	if got := l.T("made.up.7"); got != "made.up.7" || buf.Len() != 0 {
		t.Errorf("T(made.up.7) = %q, log %q", got, buf.String())
	}
}

func length(m *sync.Map) int {
	n := 0
	m.Range(func(any, any) bool { n++; return true })
	return n
}

// captureLog sends the default logger to a buffer until the test ends.
func captureLog(t *testing.T) *bytes.Buffer {
	var buf bytes.Buffer
	old := slog.Default()
	slog.SetDefault(slog.New(slog.NewTextHandler(&buf, nil)))
	t.Cleanup(func() { slog.SetDefault(old) })
	return &buf
}
