package web

import (
	"html/template"
	"strings"
	"sync"

	"roster/internal/i18n"
)

// languageOptionSets are the language select's options escaped once, one
// set per selected language (key "" for none selected): the select is on
// the profile page, the page most often shown, and ranging over the
// languages in the template cost four reflective calls an option.
var languageOptionSets = sync.OnceValue(func() map[string]template.HTML {
	sets := make(map[string]template.HTML, len(i18n.Supported)+1)
	for _, sel := range append([]string{""}, i18n.Supported...) {
		var b strings.Builder
		for _, lang := range i18n.Supported {
			b.WriteString(`<option value="` + template.HTMLEscapeString(lang) + `"`)
			if lang == sel {
				b.WriteString(" selected")
			}
			b.WriteString(">" + template.HTMLEscapeString(i18n.LanguageName(lang)) + "</option>\n")
		}
		sets[sel] = template.HTML(b.String())
	}
	return sets
})

// languageOptions is the options with selected marked; a value that is
// no language of ours (a refused form's) marks none.
func languageOptions(selected string) template.HTML {
	sets := languageOptionSets()
	if set, ok := sets[selected]; ok {
		return set
	}
	return sets[""]
}
