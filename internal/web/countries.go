package web

import (
	"slices"
	"sync"

	"golang.org/x/text/collate"
	"golang.org/x/text/language"
	"golang.org/x/text/language/display"

	"roster/internal/core"
	"roster/internal/i18n"
)

// country is one option of a country select.
type country struct{ Code, Name string }

// countryLists caches the sorted, named country list per language.
var countryLists sync.Map // lang -> []country

// countries lists the phone regions with their names in lang, in that
// language's alphabetical order (CLDR data from x/text).
func countries(lang string) []country {
	if v, ok := countryLists.Load(lang); ok {
		return v.([]country)
	}
	tag := language.Make(lang)
	namer := display.Regions(tag)
	var out []country
	for _, code := range core.Regions() {
		name := code
		if namer != nil {
			if r, err := language.ParseRegion(code); err == nil {
				if n := namer.Name(r); n != "" {
					name = n
				}
			}
		}
		out = append(out, country{Code: code, Name: name})
	}
	c := collate.New(tag)
	slices.SortFunc(out, func(a, b country) int { return c.CompareString(a.Name, b.Name) })
	countryLists.Store(lang, out)
	return out
}

// defaultCountry guesses the country of a new workspace: the region of the
// browser's preferred language ("es-MX" → MX), else one from the language.
func defaultCountry(acceptLanguage, lang string) string {
	tags, _, err := language.ParseAcceptLanguage(acceptLanguage)
	if err == nil {
		for _, t := range tags {
			if r, conf := t.Region(); conf == language.Exact && core.ValidRegion(r.String()) {
				return r.String()
			}
		}
	}
	if i18n.IsSupported(lang) {
		return core.RegionForLanguage(lang)
	}
	return "US"
}
