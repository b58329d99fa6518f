package api

import (
	"bytes"
	"encoding/json"
	"io"
	"mime"
	"net/http"
	"strings"

	"github.com/danielgtaylor/huma/v2"
)

// refuseDuplicateKeys answers 422 when a JSON body names one member twice
// in an object ({"name":"a","name":"b"}): encoding/json keeps the last one
// silently, so a proxy or log that reads the first would see another
// request than the one applied. Names are compared as encoding/json
// matches them to fields, ignoring case. It reads at most limit bytes; a
// longer body is left whole for huma to refuse as too large. It returns
// false when it has answered.
func (a *API) refuseDuplicateKeys(w http.ResponseWriter, r *http.Request, op *huma.Operation, st *state) bool {
	if r.Body == nil || r.Body == http.NoBody || op.RequestBody == nil || op.RequestBody.Content["application/json"] == nil {
		return true
	}
	if ct := r.Header.Get("Content-Type"); ct != "" {
		if mt, _, err := mime.ParseMediaType(ct); err != nil || (mt != "application/json" && !strings.HasSuffix(mt, "+json")) {
			return true // huma refuses other types itself
		}
	}
	limit := op.MaxBodyBytes
	head, err := io.ReadAll(io.LimitReader(r.Body, limit))
	r.Body = struct {
		io.Reader
		io.Closer
	}{io.MultiReader(bytes.NewReader(head), r.Body), r.Body}
	if err != nil || int64(len(head)) >= limit {
		return true // huma reports the read error or the size
	}
	if name, dup := duplicateKey(head); dup {
		m := problem(st.loc, http.StatusUnprocessableEntity, keyValidation, nil)
		m.Errors = []*huma.ErrorDetail{{Location: joinLocation("body", name), Message: st.loc.T(keyFieldDuplicate)}}
		writeProblem(w, m)
		return false
	}
	return true
}

// duplicateKey reports the first member name that appears twice in one
// object of the JSON document b, as a dotted path. Invalid JSON reports
// nothing: huma answers it as unreadable.
func duplicateKey(b []byte) (string, bool) {
	type frame struct {
		object    bool
		seen      map[string]bool
		path      string // of this object or array
		member    string // the member whose value is being read
		expectKey bool
	}
	var stack []*frame
	valuePath := func(top *frame) string {
		switch {
		case top == nil:
			return ""
		case top.object:
			return joinLocation(top.path, top.member)
		default:
			return top.path
		}
	}
	dec := json.NewDecoder(bytes.NewReader(b))
	for {
		tok, err := dec.Token()
		if err != nil {
			return "", false
		}
		var top *frame
		if len(stack) > 0 {
			top = stack[len(stack)-1]
		}
		if top != nil && top.object && top.expectKey {
			if tok == json.Delim('}') {
				stack = stack[:len(stack)-1]
				continue
			}
			name, _ := tok.(string)
			fold := strings.ToLower(name)
			if top.seen[fold] {
				return joinLocation(top.path, name), true
			}
			top.seen[fold] = true
			top.member, top.expectKey = name, false
			continue
		}
		if top != nil && top.object {
			top.expectKey = true // tok starts the member's value
		}
		switch tok {
		case json.Delim('{'):
			stack = append(stack, &frame{object: true, seen: map[string]bool{}, path: valuePath(top), expectKey: true})
		case json.Delim('['):
			stack = append(stack, &frame{path: valuePath(top)})
		case json.Delim(']'):
			stack = stack[:len(stack)-1]
		}
	}
}
