package i18n

import (
	"fmt"
	"io/fs"
	"path"
	"regexp"
	"sort"
	"strings"
)

// keyPattern is what a message ID looks like: dotted segments, at least two.
const keyPattern = `[A-Za-z0-9_-]+(?:\.[A-Za-z0-9_-]+)+`

var (
	// templateAction finds {{ ... }} actions in template files.
	templateAction = regexp.MustCompile(`(?s)\{\{(.*?)\}\}`)
	// templateCall finds t "key" / tn "key" inside one action, at its start
	// or after a space or an opening parenthesis.
	templateCall = regexp.MustCompile(`(?:^|[\s(])tn?\s+(?:"(` + keyPattern + `)"|` + "`(" + keyPattern + ")`)")
	// goCall finds T("key", .N("key" and Key("key") in Go source.
	goCall = regexp.MustCompile(`(?:\bT|\.N|\bKey)\(\s*(?:"(` + keyPattern + `)"|` + "`(" + keyPattern + ")`)")
)

// templateExts are the file extensions scanned for template calls.
var templateExts = map[string]bool{".html": true, ".tmpl": true, ".gohtml": true, ".txt": true}

// UsedKeys walks fsys and returns every message ID that templates or Go
// code name literally, mapped to the sorted files that name it.
//
// Templates (.html, .tmpl, .gohtml, .txt) are searched for t "key" and
// tn "key" calls inside {{ }} actions. Go files are searched for T("key",
// .N("key" and Key("key"); _test.go files are skipped because tests use
// made-up keys on purpose. Directories named testdata, vendor or
// node_modules and hidden directories are skipped.
func UsedKeys(fsys fs.FS) (map[string][]string, error) {
	found := make(map[string]map[string]bool)
	add := func(key, file string) {
		if found[key] == nil {
			found[key] = make(map[string]bool)
		}
		found[key][file] = true
	}
	err := fs.WalkDir(fsys, ".", func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() {
			name := d.Name()
			if p != "." && (strings.HasPrefix(name, ".") || name == "testdata" || name == "vendor" || name == "node_modules") {
				return fs.SkipDir
			}
			return nil
		}
		ext := path.Ext(p)
		isGo := ext == ".go" && !strings.HasSuffix(p, "_test.go")
		if !isGo && !templateExts[ext] {
			return nil
		}
		buf, err := fs.ReadFile(fsys, p)
		if err != nil {
			return fmt.Errorf("read %s: %w", p, err)
		}
		src := string(buf)
		if isGo {
			for _, m := range goCall.FindAllStringSubmatch(src, -1) {
				add(m[1]+m[2], p)
			}
			return nil
		}
		for _, action := range templateAction.FindAllStringSubmatch(src, -1) {
			for _, m := range templateCall.FindAllStringSubmatch(action[1], -1) {
				add(m[1]+m[2], p)
			}
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("scan for message keys: %w", err)
	}
	out := make(map[string][]string, len(found))
	for key, files := range found {
		list := make([]string, 0, len(files))
		for f := range files {
			list = append(list, f)
		}
		sort.Strings(list)
		out[key] = list
	}
	return out, nil
}
