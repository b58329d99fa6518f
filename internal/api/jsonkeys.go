package api

import (
	"bytes"
	"encoding/json"
	"io"
	"mime"
	"net/http"
	"slices"
	"strings"
	"unicode/utf8"

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
// nothing: huma answers it as unreadable. A valid document (every body
// that gets further) is read by a byte scanner; an invalid one by
// duplicateKeyByTokens, which is what the scanner must agree with
// (FuzzDuplicateKey). The scanner took a twentieth of the server's CPU
// off each posted event: json.Decoder.Token allocates for every token.
func duplicateKey(b []byte) (string, bool) {
	if !json.Valid(b) {
		return duplicateKeyByTokens(b)
	}
	s := keyScanner{b: b}
	return s.value("", "")
}

// keyScanner reads a valid JSON document for duplicateKey: it relies on
// json.Valid for the syntax and checks nothing itself.
type keyScanner struct {
	b []byte
	i int
}

func (s *keyScanner) space() {
	for s.i < len(s.b) && (s.b[s.i] == ' ' || s.b[s.i] == '\t' || s.b[s.i] == '\n' || s.b[s.i] == '\r') {
		s.i++
	}
}

// value reads the value at s.i, member name of the object or array at
// base ("" for an array's elements), and reports the first duplicate in
// it. The path is joined only for objects and arrays, which need it.
func (s *keyScanner) value(base, name string) (string, bool) {
	s.space()
	switch s.b[s.i] {
	case '{':
		return s.object(joinLocation(base, name))
	case '[':
		path := joinLocation(base, name)
		s.i++
		s.space()
		if s.b[s.i] == ']' {
			s.i++
			return "", false
		}
		for {
			if at, dup := s.value(path, ""); dup {
				return at, true
			}
			s.space()
			s.i++ // ',' or ']'
			if s.b[s.i-1] == ']' {
				return "", false
			}
		}
	case '"':
		s.skipString()
	default: // a number, true, false or null
		for s.i < len(s.b) && !strings.ContainsRune(",]} \t\n\r", rune(s.b[s.i])) {
			s.i++
		}
	}
	return "", false
}

func (s *keyScanner) object(path string) (string, bool) {
	s.i++ // '{'
	s.space()
	if s.b[s.i] == '}' {
		s.i++
		return "", false
	}
	var seen keySet
	for {
		s.space()
		start := s.i
		s.skipString()
		name := unquoteKey(s.b[start:s.i])
		if seen.add(strings.ToLower(name)) {
			return joinLocation(path, name), true
		}
		s.space()
		s.i++ // ':'
		if at, dup := s.value(path, name); dup {
			return at, true
		}
		s.space()
		s.i++ // ',' or '}'
		if s.b[s.i-1] == '}' {
			return "", false
		}
	}
}

// skipString moves past the string starting at s.i.
func (s *keyScanner) skipString() {
	s.i++ // '"'
	for s.b[s.i] != '"' {
		if s.b[s.i] == '\\' {
			s.i++
		}
		s.i++
	}
	s.i++
}

// unquoteKey is the member name quoted (with its quotes) as encoding/json
// reads it: escapes resolved, invalid UTF-8 replaced.
func unquoteKey(quoted []byte) string {
	plain := true
	for _, c := range quoted {
		if c == '\\' || c >= utf8.RuneSelf {
			plain = false
			break
		}
	}
	if plain {
		return string(quoted[1 : len(quoted)-1])
	}
	var name string
	_ = json.Unmarshal(quoted, &name) // valid: json.Valid said so
	return name
}

// keySet is the names seen in one object: a short list for the usual few,
// a map once there are many (a body of thousands of members must not cost
// their square).
type keySet struct {
	few  []string
	many map[string]bool
}

// add records key and reports whether it was there already.
func (k *keySet) add(key string) bool {
	if k.many != nil {
		if k.many[key] {
			return true
		}
		k.many[key] = true
		return false
	}
	if slices.Contains(k.few, key) {
		return true
	}
	k.few = append(k.few, key)
	if len(k.few) > 16 {
		k.many = make(map[string]bool, 2*len(k.few))
		for _, f := range k.few {
			k.many[f] = true
		}
		k.few = nil
	}
	return false
}

// duplicateKeyByTokens is duplicateKey by json.Decoder's tokens: the
// reference, and the reader of invalid documents (it reports a duplicate
// met before the syntax error, as it always has).
func duplicateKeyByTokens(b []byte) (string, bool) {
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
