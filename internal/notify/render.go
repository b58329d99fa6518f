package notify

import (
	"encoding/json"
	"fmt"
	"strconv"
)

// Rendered is a notification's text in one language.
type Rendered struct {
	Title string
	Body  string
	URL   string
}

// Render writes the type's title and body in the translator's language
// from the event's data: the body's variant is picked by the type's
// BodyBy field, its plural form by CountBy.
func Render(t *Type, data map[string]any, tr Translator) Rendered {
	vars := make(map[string]any, len(data))
	for k, v := range data {
		vars[k] = fmt.Sprint(v)
	}
	base := "notify.type." + t.Key
	r := Rendered{Title: tr.T(base+".title", vars)}
	if u, ok := data["url"].(string); ok {
		r.URL = u
	}
	switch {
	case t.BodyBy != "":
		r.Body = tr.T(base+".body."+fmt.Sprint(data[t.BodyBy]), vars)
	case t.CountBy != "":
		n, _ := count(data[t.CountBy])
		r.Body = tr.N(base+".body", n, vars)
	default:
		r.Body = tr.T(base+".body", vars)
	}
	return r
}

// count reads an integer field as stored (a JSON number) or as given.
func count(v any) (int, bool) {
	switch n := v.(type) {
	case int:
		return n, true
	case int64:
		return int(n), true
	case float64:
		return int(n), n == float64(int(n))
	case json.Number:
		i, err := strconv.Atoi(n.String())
		return i, err == nil
	}
	return 0, false
}
