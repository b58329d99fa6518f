// Package i18n loads Roster's message catalogs and picks the language a
// person sees.
//
// Catalogs are embedded JSON files named locales/<area>.<lang>.json in
// go-i18n's format: flat dotted message IDs whose value is either a string
// or, for plurals, an object keyed by CLDR plural category. Each area (web,
// errors, mail, ...) has one file per supported language, so several people
// can own different areas without editing the same file.
package i18n

import (
	"embed"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"path"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"text/template"

	goi18n "github.com/nicksnyder/go-i18n/v2/i18n"
	"golang.org/x/text/language"
)

//go:embed locales/*.json
var catalogFS embed.FS

// Supported lists the UI languages in display order. English is the fallback.
var Supported = []string{"en", "es", "pt-BR", "id", "tr", "ru"}

// Fallback is the language used when nothing else matches.
const Fallback = "en"

var languageNames = map[string]string{
	"en":    "English",
	"es":    "Español",
	"pt-BR": "Português (Brasil)",
	"id":    "Bahasa Indonesia",
	"tr":    "Türkçe",
	"ru":    "Русский",
}

// IsSupported reports whether lang is exactly one of Supported.
func IsSupported(lang string) bool {
	_, ok := languageNames[lang]
	return ok
}

// LanguageName returns the native name of a supported language, or lang
// itself when it is not supported.
func LanguageName(lang string) string {
	if name, ok := languageNames[lang]; ok {
		return name
	}
	return lang
}

// Key returns k unchanged. It marks a string in Go code as a message ID so
// that the catalog test can find it (see UsedKeys).
func Key(k string) string { return k }

// Match maps a single BCP 47 tag to a supported language: an exact match
// (case-insensitive) wins, otherwise the base language decides, so "pt-PT"
// gives "pt-BR" and "es-MX" gives "es". It returns false when nothing fits.
func Match(tag string) (string, bool) {
	tag = strings.TrimSpace(tag)
	if tag == "" || tag == "*" {
		return "", false
	}
	for _, s := range Supported {
		if strings.EqualFold(tag, s) || strings.EqualFold(strings.ReplaceAll(tag, "_", "-"), s) {
			return s, true
		}
	}
	t, err := language.Parse(strings.ReplaceAll(tag, "_", "-"))
	if err != nil {
		return "", false
	}
	base, conf := t.Base()
	if conf == language.No {
		return "", false
	}
	b := base.String()
	for _, s := range Supported {
		sb, _ := language.MustParse(s).Base()
		if sb.String() == b {
			return s, true
		}
	}
	return "", false
}

// Bundle holds every embedded catalog. It is safe for concurrent use.
type Bundle struct {
	// byLang holds one go-i18n bundle per language, made when the
	// language is first used: most instances serve one or two languages,
	// and the compiled messages of six were a tenth of the idle heap.
	byLang map[string]*langBundle
	// messages keeps the parsed catalogs per supported language, because
	// go-i18n does not expose them and tests and Keys need them.
	messages map[string]map[string]*goi18n.Message
	// files maps each message ID and language to the file it came from.
	files map[string]map[string]string
	// warned remembers missing keys already logged, so each is logged
	// once (and, past the bound, no more are).
	warned bounded[string, struct{}]
	// localizers keeps one Localizer per language: they are read-only,
	// and the same one lets renderers cache what they bind to it.
	localizers sync.Map
}

// New loads all embedded catalogs. It fails on a malformed file, a file
// for an unsupported language, a message ID defined twice for one
// language, or a message template that does not parse.
func New() (*Bundle, error) {
	return load(catalogFS, "locales")
}

// load reads every <area>.<lang>.json file in dir of fsys.
func load(fsys fs.FS, dir string) (*Bundle, error) {
	b := &Bundle{
		byLang:   make(map[string]*langBundle, len(Supported)),
		messages: make(map[string]map[string]*goi18n.Message),
		files:    make(map[string]map[string]string),
	}
	for _, lang := range Supported {
		b.messages[lang] = make(map[string]*goi18n.Message)
		b.byLang[lang] = &langBundle{}
	}
	entries, err := fs.ReadDir(fsys, dir)
	if err != nil {
		return nil, fmt.Errorf("read catalogs: %w", err)
	}
	for _, e := range entries {
		if e.IsDir() || !strings.HasSuffix(e.Name(), ".json") {
			continue
		}
		name := path.Join(dir, e.Name())
		_, lang, ok := splitCatalogName(e.Name())
		if !ok {
			return nil, fmt.Errorf("catalog %s: name must be <area>.<lang>.json", name)
		}
		if !IsSupported(lang) {
			return nil, fmt.Errorf("catalog %s: unsupported language %q", name, lang)
		}
		buf, err := fs.ReadFile(fsys, name)
		if err != nil {
			return nil, fmt.Errorf("read catalog %s: %w", name, err)
		}
		msgs, err := goi18n.ParseMessageBytes(buf, json.Unmarshal)
		if err != nil {
			return nil, fmt.Errorf("parse catalog %s: %w", name, err)
		}
		for _, m := range msgs {
			if err := checkMessage(m); err != nil {
				return nil, fmt.Errorf("catalog %s: %w", name, err)
			}
			if prev, dup := b.files[m.ID][lang]; dup {
				return nil, fmt.Errorf("catalog %s: message %q already defined in %s", name, m.ID, prev)
			}
			if b.files[m.ID] == nil {
				b.files[m.ID] = make(map[string]string)
			}
			b.files[m.ID][lang] = name
			b.messages[lang][m.ID] = m
		}
		lb := b.byLang[lang]
		lb.msgs = append(lb.msgs, msgs...)
	}
	// English is the fallback of every language: made now, it also proves
	// at start that go-i18n takes the messages (the others are checked
	// alike by checkMessage above).
	if _, err := b.localizerOf(Fallback); err != nil {
		return nil, err
	}
	return b, nil
}

// langBundle is one language's go-i18n bundle, made on first use.
type langBundle struct {
	msgs []*goi18n.Message
	once sync.Once
	loc  *goi18n.Localizer
	err  error
}

// localizerOf returns lang's go-i18n localizer, making its bundle on the
// first call.
func (b *Bundle) localizerOf(lang string) (*goi18n.Localizer, error) {
	lb := b.byLang[lang]
	lb.once.Do(func() {
		gb := goi18n.NewBundle(language.English)
		if err := gb.AddMessages(language.MustParse(lang), lb.msgs...); err != nil {
			lb.err = fmt.Errorf("add %s catalogs: %w", lang, err)
			return
		}
		lb.loc, lb.msgs = goi18n.NewLocalizer(gb, lang), nil
	})
	return lb.loc, lb.err
}

// splitCatalogName splits "web.pt-BR.json" into "web" and "pt-BR".
func splitCatalogName(name string) (area, lang string, ok bool) {
	stem, found := strings.CutSuffix(name, ".json")
	if !found {
		return "", "", false
	}
	i := strings.LastIndexByte(stem, '.')
	if i <= 0 || i == len(stem)-1 {
		return "", "", false
	}
	return stem[:i], stem[i+1:], true
}

// checkMessage rejects empty IDs and plural forms whose template text does
// not parse, so a broken catalog fails at start-up instead of at render time.
func checkMessage(m *goi18n.Message) error {
	if m.ID == "" {
		return fmt.Errorf("message without ID")
	}
	for form, src := range PluralForms(m) {
		if !strings.Contains(src, "{{") {
			continue
		}
		if _, err := template.New(m.ID).Parse(src); err != nil {
			return fmt.Errorf("message %q form %q: %w", m.ID, form, err)
		}
	}
	return nil
}

// PluralForms returns the non-empty CLDR plural forms of m keyed by
// category name ("zero", "one", "two", "few", "many", "other").
func PluralForms(m *goi18n.Message) map[string]string {
	forms := make(map[string]string, 6)
	for k, v := range map[string]string{
		"zero": m.Zero, "one": m.One, "two": m.Two,
		"few": m.Few, "many": m.Many, "other": m.Other,
	} {
		if v != "" {
			forms[k] = v
		}
	}
	return forms
}

// Keys returns all message IDs of the English catalogs, sorted.
func (b *Bundle) Keys() []string {
	keys := make([]string, 0, len(b.messages[Fallback]))
	for id := range b.messages[Fallback] {
		keys = append(keys, id)
	}
	sort.Strings(keys)
	return keys
}

// Message returns the raw catalog entry for id in lang, or nil.
func (b *Bundle) Message(lang, id string) *goi18n.Message {
	return b.messages[lang][id]
}

// AllKeys returns every message ID found in any catalog of any language,
// sorted.
func (b *Bundle) AllKeys() []string {
	keys := make([]string, 0, len(b.files))
	for id := range b.files {
		keys = append(keys, id)
	}
	sort.Strings(keys)
	return keys
}

// Localizer returns a Localizer for the first entry of langs that matches a
// supported language (see Match), or for English.
func (b *Bundle) Localizer(langs ...string) *Localizer {
	lang := Fallback
	for _, l := range langs {
		if m, ok := Match(l); ok {
			lang = m
			break
		}
	}
	if l, ok := b.localizers.Load(lang); ok {
		return l.(*Localizer)
	}
	loc, err := b.localizerOf(lang)
	if err != nil {
		// Cannot happen with catalogs that passed load's checks; the
		// language's pages then come in English rather than not at all.
		slog.Error("i18n: language unavailable", "lang", lang, "err", err)
		return b.Localizer(Fallback)
	}
	l, _ := b.localizers.LoadOrStore(lang, &Localizer{bundle: b, lang: lang, loc: loc})
	return l.(*Localizer)
}

// maxAcceptEntries bounds the work done on a hostile Accept-Language header.
const maxAcceptEntries = 32

// Negotiate picks a supported language from an Accept-Language header,
// honouring q-values. Unparsable entries are skipped. When nothing matches
// it returns fallback if that is supported, else English.
func (b *Bundle) Negotiate(acceptLanguage string, fallback string) string {
	return Negotiate(acceptLanguage, fallback)
}

// Negotiate is Bundle.Negotiate without a bundle.
func Negotiate(acceptLanguage string, fallback string) string {
	type entry struct {
		tag string
		q   float64
	}
	var entries []entry
	for i, part := range strings.Split(acceptLanguage, ",") {
		if i >= maxAcceptEntries {
			break
		}
		tag, params, _ := strings.Cut(part, ";")
		tag = strings.TrimSpace(tag)
		if tag == "" {
			continue
		}
		q := 1.0
		for _, p := range strings.Split(params, ";") {
			k, v, ok := strings.Cut(strings.TrimSpace(p), "=")
			if !ok || strings.TrimSpace(strings.ToLower(k)) != "q" {
				continue
			}
			var f float64
			if _, err := fmt.Sscanf(strings.TrimSpace(v), "%g", &f); err != nil || f < 0 || f > 1 {
				f = 0 // a broken weight means "not acceptable"
			}
			q = f
		}
		if q <= 0 {
			continue
		}
		entries = append(entries, entry{tag, q})
	}
	// Stable sort keeps the header order among equal weights.
	sort.SliceStable(entries, func(i, j int) bool { return entries[i].q > entries[j].q })
	for _, e := range entries {
		if m, ok := Match(e.tag); ok {
			return m
		}
	}
	if IsSupported(fallback) {
		return fallback
	}
	return Fallback
}

// Localizer renders messages in one language, falling back to English per
// message.
type Localizer struct {
	bundle *Bundle
	lang   string
	loc    *goi18n.Localizer
	// plain keeps messages rendered without data: a page asks for
	// hundreds, and each is the same every time.
	plain bounded[string, string]
	// counted keeps plural messages rendered with no data but their
	// count, for the same reason ("3 unread" on every page's bell).
	counted bounded[countedKey, string]
}

type countedKey struct {
	key   string
	count int
}

// maxPlain bounds the messages kept per language (the catalogs hold a
// few thousand; a key made from outside input must not grow it forever).
const maxPlain = 20_000

// bounded is a concurrent map that keeps at most maxPlain entries: the
// first ones stored; later ones are not kept (their messages are rendered
// again each time; their warnings are not logged).
type bounded[K comparable, V any] struct {
	m      sync.Map // K -> V
	stored atomic.Int64
}

func (b *bounded[K, V]) load(k K) (V, bool) {
	v, ok := b.m.Load(k)
	if !ok {
		var zero V
		return zero, false
	}
	return v.(V), true
}

// keep stores v under k while fewer than maxPlain entries have been.
func (b *bounded[K, V]) keep(k K, v V) {
	if b.stored.Add(1) <= maxPlain {
		b.m.Store(k, v)
	}
}

// first reports whether k is new and now kept: false for a key seen
// before, and for every key past the bound (a flood of made-up keys must
// not flood the log either).
func (b *bounded[K, V]) first(k K, v V) bool {
	if _, seen := b.m.Load(k); seen {
		return false
	}
	if b.stored.Add(1) > maxPlain {
		return false
	}
	_, seen := b.m.LoadOrStore(k, v)
	return !seen
}

// Lang returns the supported language this Localizer renders.
func (l *Localizer) Lang() string { return l.lang }

// T renders the message key with optional template data. A missing key
// renders as the key itself and is logged once.
func (l *Localizer) T(key string, data ...map[string]any) string {
	d := merge(data)
	if d != nil {
		return l.localize(key, nil, d)
	}
	if s, ok := l.plain.load(key); ok {
		return s
	}
	s := l.localize(key, nil, nil)
	l.plain.keep(key, s)
	return s
}

// N renders the plural message key in the form CLDR picks for count. The
// template data gets "Count" set to count.
func (l *Localizer) N(key string, count int, data ...map[string]any) string {
	d := merge(data)
	if d != nil {
		d["Count"] = count
		return l.localize(key, count, d)
	}
	ck := countedKey{key, count}
	if s, ok := l.counted.load(ck); ok {
		return s
	}
	s := l.localize(key, count, map[string]any{"Count": count})
	// Counts come from data, so the pairs are not bounded by the catalogs.
	l.counted.keep(ck, s)
	return s
}

func merge(data []map[string]any) map[string]any {
	var out map[string]any
	for _, d := range data {
		if len(d) == 0 {
			continue
		}
		if out == nil {
			out = make(map[string]any, len(d))
		}
		for k, v := range d {
			out[k] = v
		}
	}
	return out
}

func (l *Localizer) localize(key string, count any, data map[string]any) string {
	msg, err := l.render(key, count, data)
	if err != nil {
		l.bundle.warnOnce(l.lang, key, err)
		// A message missing in this language comes in English: each
		// language's bundle holds only its own catalogs.
		var missing *goi18n.MessageNotFoundErr
		if msg == "" && errors.As(err, &missing) && l.lang != Fallback {
			msg, _ = l.bundle.Localizer(Fallback).render(key, count, data)
		}
	}
	if msg == "" {
		return key
	}
	return msg
}

func (l *Localizer) render(key string, count any, data map[string]any) (string, error) {
	lc := &goi18n.LocalizeConfig{MessageID: key, PluralCount: count}
	if data != nil {
		lc.TemplateData = data
	}
	return l.loc.Localize(lc)
}

func (b *Bundle) warnOnce(lang, key string, err error) {
	if !b.warned.first(lang+"\x00"+key, struct{}{}) {
		return
	}
	slog.Warn("i18n: message problem", "lang", lang, "key", key, "err", err)
}

// Func returns a template function for {{t "key"}} or
// {{t "key" "Name" .User.Name}}: arguments after the key are name/value
// pairs that become the template data.
func (l *Localizer) Func() func(key string, args ...any) string {
	return func(key string, args ...any) string {
		return l.T(key, pairs(args))
	}
}

// NFunc returns a template function for {{tn "key" 3}} or
// {{tn "key" .N "Name" .User.Name}}. The count may be any integer type.
func (l *Localizer) NFunc() func(key string, count any, args ...any) string {
	return func(key string, count any, args ...any) string {
		n, ok := ToInt(count)
		if !ok {
			l.bundle.warnOnce(l.lang, key, fmt.Errorf("count %v (%T) is not an integer", count, count))
		}
		return l.N(key, n, pairs(args))
	}
}

// FuncMap returns the "t" and "tn" template functions of l.
func (l *Localizer) FuncMap() map[string]any {
	return map[string]any{"t": l.Func(), "tn": l.NFunc()}
}

// pairs turns name/value arguments into template data. A trailing name
// without a value is ignored.
func pairs(args []any) map[string]any {
	if len(args) < 2 {
		return nil
	}
	m := make(map[string]any, len(args)/2)
	for i := 0; i+1 < len(args); i += 2 {
		m[fmt.Sprint(args[i])] = args[i+1]
	}
	return m
}

// ToInt converts any Go integer to int, for plural counts coming from
// templates and error data.
func ToInt(v any) (int, bool) {
	switch n := v.(type) {
	case int:
		return n, true
	case int8:
		return int(n), true
	case int16:
		return int(n), true
	case int32:
		return int(n), true
	case int64:
		return int(n), true
	case uint:
		return int(n), true
	case uint8:
		return int(n), true
	case uint16:
		return int(n), true
	case uint32:
		return int(n), true
	case uint64:
		return int(n), true
	}
	return 0, false
}

// Message renders key with data, choosing the plural form when data holds an
// integer "Count": domain errors carry their key and data this way, and the
// web and API layers render them through this one function.
func (l *Localizer) Message(key string, data map[string]any) string {
	if c, ok := ToInt(data["Count"]); ok {
		return l.N(key, c, data)
	}
	return l.T(key, data)
}
