package mail

import (
	"bytes"
	"embed"
	"fmt"
	htmltemplate "html/template"
	"io/fs"
	"maps"
	"reflect"
	"strings"
	"sync"
	texttemplate "text/template"

	"roster/internal/i18n"
)

// Translator renders catalog messages in one language. The i18n package's
// Localizer satisfies it.
type Translator interface {
	// T renders key with optional template data.
	T(key string, data ...map[string]any) string
	// N renders the plural message key in the form for count; the data
	// gets "Count" set to count.
	N(key string, count int, data ...map[string]any) string
}

// Templates live in templates/: <name>.txt.tmpl defines "subject" and
// "content" for the plain-text part, <name>.html.tmpl defines "content"
// for the HTML part. layout.txt.tmpl and layout.html.tmpl wrap the content
// with the shared header and footer.
//
// In templates, {{t "key" "Name" .Value}} translates key with name/value
// pairs as data, and {{tn "key" .N "Name" .Value}} picks the plural form
// for .N (available as {{.Count}} in the message).
//
//go:embed templates/*.tmpl
var templateFS embed.FS

type templateSet struct {
	text *texttemplate.Template
	html *htmltemplate.Template
}

// Placeholders so templates parse; Render binds the real translator on a
// clone.
var placeholderFuncs = map[string]any{
	"t":  func(string, ...any) string { return "" },
	"tn": func(string, any, ...any) string { return "" },
}

// loadTemplates parses every embedded template once.
var loadTemplates = sync.OnceValues(func() (map[string]templateSet, error) {
	names, err := fs.Glob(templateFS, "templates/*.txt.tmpl")
	if err != nil {
		return nil, err
	}
	sets := make(map[string]templateSet)
	for _, p := range names {
		name := strings.TrimSuffix(strings.TrimPrefix(p, "templates/"), ".txt.tmpl")
		if name == "layout" {
			continue
		}
		text, err := texttemplate.New("layout.txt.tmpl").Funcs(placeholderFuncs).
			ParseFS(templateFS, "templates/layout.txt.tmpl", p)
		if err != nil {
			return nil, fmt.Errorf("mail: parse %s: %w", p, err)
		}
		if text.Lookup("subject") == nil {
			return nil, fmt.Errorf("mail: %s defines no \"subject\"", p)
		}
		html, err := htmltemplate.New("layout.html.tmpl").Funcs(placeholderFuncs).
			ParseFS(templateFS, "templates/layout.html.tmpl", "templates/"+name+".html.tmpl")
		if err != nil {
			return nil, fmt.Errorf("mail: parse %s HTML: %w", name, err)
		}
		sets[name] = templateSet{text: text, html: html}
	}
	return sets, nil
})

// Render renders the mail template name in lang with the translator t and
// returns the subject and both body parts. data holds the template's
// fields; "Lang" is added. "ManageURL", when given, puts a link to the
// person's notification settings in the footer.
func Render(name string, t Translator, lang string, data map[string]any) (subject, text, html string, err error) {
	return render(name, t, lang, data, false)
}

// Check renders like Render but fails on a data key the template uses and
// data lacks (missingkey=error) or on output holding "<no value>" (a
// catalog message missing its data): tests use it on the data a caller
// actually sends, so a renamed key at a call site fails.
func Check(name string, t Translator, lang string, data map[string]any) error {
	subject, text, html, err := render(name, t, lang, data, true)
	if err != nil {
		return err
	}
	for part, out := range map[string]string{"subject": subject, "text": text, "html": html} {
		if strings.Contains(out, "<no value>") || strings.Contains(out, "&lt;no value&gt;") {
			return fmt.Errorf("mail: %s %s %s has a missing value", name, lang, part)
		}
	}
	return nil
}

func render(name string, t Translator, lang string, data map[string]any, strict bool) (subject, text, html string, err error) {
	sets, err := loadTemplates()
	if err != nil {
		return "", "", "", err
	}
	set, ok := sets[name]
	if !ok {
		return "", "", "", fmt.Errorf("mail: no template %q", name)
	}
	funcs := map[string]any{
		"t": func(key string, args ...any) string { return t.T(key, pairs(args)...) },
		"tn": func(key string, count any, args ...any) string {
			n, ok := i18n.ToInt(count)
			if !ok {
				// Surfaces as a template execution error naming the call.
				panic(fmt.Sprintf("tn %q: count %v (%T) is not an integer", key, count, count))
			}
			return t.N(key, n, pairs(args)...)
		},
	}
	d := make(map[string]any, len(data)+1)
	maps.Copy(d, data)
	d["Lang"] = lang
	if _, ok := d["ManageURL"]; !ok {
		d["ManageURL"] = "" // the footer's settings link, when the sender has one
	}

	textT, htmlT, err := bound(name, set, t, funcs, strict)
	if err != nil {
		return "", "", "", err
	}
	var buf bytes.Buffer
	if err := textT.ExecuteTemplate(&buf, "subject", d); err != nil {
		return "", "", "", fmt.Errorf("mail: render %s subject: %w", name, err)
	}
	// One line: a newline in a header would end it.
	subject = strings.Join(strings.Fields(buf.String()), " ")
	buf.Reset()
	if err := textT.Execute(&buf, d); err != nil {
		return "", "", "", fmt.Errorf("mail: render %s text: %w", name, err)
	}
	text = tidyText(buf.String())

	buf.Reset()
	if err := htmlT.Execute(&buf, d); err != nil {
		return "", "", "", fmt.Errorf("mail: render %s HTML: %w", name, err)
	}
	return subject, text, buf.String(), nil
}

// boundKey names a template set bound to one translator.
type boundKey struct {
	name string
	t    Translator
}

type boundSet struct {
	text *texttemplate.Template
	html *htmltemplate.Template
}

// boundSets keeps the templates bound to a translator that stays the same
// (i18n keeps one per language), so a burst of mail (the daily digests)
// does not clone the templates for every message.
var boundSets sync.Map

// bound returns the set's templates with the translation funcs bound.
func bound(name string, set templateSet, t Translator, funcs map[string]any, strict bool) (*texttemplate.Template, *htmltemplate.Template, error) {
	cacheable := !strict && t != nil && reflect.TypeOf(t).Kind() == reflect.Pointer
	if cacheable {
		if b, ok := boundSets.Load(boundKey{name, t}); ok {
			return b.(boundSet).text, b.(boundSet).html, nil
		}
	}
	textT, err := set.text.Clone()
	if err != nil {
		return nil, nil, fmt.Errorf("mail: clone %s: %w", name, err)
	}
	textT.Funcs(funcs)
	htmlT, err := set.html.Clone()
	if err != nil {
		return nil, nil, fmt.Errorf("mail: clone %s HTML: %w", name, err)
	}
	htmlT.Funcs(funcs)
	if strict {
		textT.Option("missingkey=error")
		htmlT.Option("missingkey=error")
	}
	if cacheable {
		b, _ := boundSets.LoadOrStore(boundKey{name, t}, boundSet{textT, htmlT})
		return b.(boundSet).text, b.(boundSet).html, nil
	}
	return textT, htmlT, nil
}

// tidyText trims trailing spaces and collapses runs of blank lines left by
// template actions, so the plain-text part reads cleanly.
func tidyText(s string) string {
	lines := strings.Split(strings.ReplaceAll(s, "\r\n", "\n"), "\n")
	out := make([]string, 0, len(lines))
	blank := true // drops leading blank lines
	for _, l := range lines {
		l = strings.TrimRight(l, " \t")
		if l == "" {
			if blank {
				continue
			}
			blank = true
		} else {
			blank = false
		}
		out = append(out, l)
	}
	return strings.TrimRight(strings.Join(out, "\n"), "\n") + "\n"
}

// pairs turns name/value template arguments into message data, as the
// variadic data argument of Translator. A trailing name without a value is
// ignored.
func pairs(args []any) []map[string]any {
	if len(args) < 2 {
		return nil
	}
	m := make(map[string]any, len(args)/2)
	for i := 0; i+1 < len(args); i += 2 {
		m[fmt.Sprint(args[i])] = args[i+1]
	}
	return []map[string]any{m}
}
