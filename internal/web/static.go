package web

import (
	"crypto/sha256"
	"embed"
	"encoding/hex"
	"fmt"
	"html/template"
	"io/fs"
	"mime"
	"net/http"
	"path"
	"regexp"
	"slices"
	"strings"
)

//go:embed static
var staticFS embed.FS

// staticFiles maps each asset to a URL carrying a hash of its content, so
// browsers may cache it forever and a new release still gets fresh files.
type staticFiles struct {
	urls  map[string]string // "app.css" -> "/static/app.3f2a9c1e.css"
	files map[string]asset  // "app.3f2a9c1e.css" -> content
	icons []string          // symbol ids of icons.svg
}

type asset struct {
	data        []byte
	contentType string
}

func loadStatic() (*staticFiles, error) {
	s := &staticFiles{urls: map[string]string{}, files: map[string]asset{}}
	err := fs.WalkDir(staticFS, "static", func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		data, err := staticFS.ReadFile(p)
		if err != nil {
			return err
		}
		name := strings.TrimPrefix(p, "static/")
		sum := sha256.Sum256(data)
		ext := path.Ext(name)
		hashed := strings.TrimSuffix(name, ext) + "." + hex.EncodeToString(sum[:4]) + ext
		ct := mime.TypeByExtension(ext)
		if ct == "" {
			ct = "application/octet-stream"
		}
		if name == "icons.svg" {
			for _, m := range iconIDs.FindAllSubmatch(data, -1) {
				s.icons = append(s.icons, string(m[1]))
			}
		}
		s.urls[name] = "/static/" + hashed
		s.files[hashed] = asset{data: data, contentType: ct}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("load static assets: %w", err)
	}
	return s, nil
}

func (s *staticFiles) url(name string) string { return s.urls[name] }

// iconIDs lists the symbols of static/icons.svg.
var iconIDs = regexp.MustCompile(`<symbol id="([a-z-]+)"`)

// icon renders a symbol of the sprite static/icons.svg, decorative (the
// text beside it says the same): {{icon "shield"}}. An unknown name is an
// error, so a page naming a missing icon fails its tests.
func (h *Handler) icon(name string) (template.HTML, error) {
	if !slices.Contains(h.static.icons, name) {
		return "", fmt.Errorf("no icon %q in icons.svg", name)
	}
	return template.HTML(`<svg class="icon" aria-hidden="true" focusable="false"><use href="` +
		template.HTMLEscapeString(h.static.url("icons.svg")+"#"+name) + `"></use></svg>`), nil
}

// serveStatic serves an asset by its hashed name. Any other name, including
// an outdated hash, is a 404 so that a stale URL is never cached as fresh.
func (h *Handler) serveStatic(w http.ResponseWriter, r *http.Request) {
	a, ok := h.static.files[r.PathValue("name")]
	if !ok {
		h.NotFound().ServeHTTP(w, r)
		return
	}
	hdr := w.Header()
	hdr.Set("Content-Type", a.contentType)
	hdr.Set("Cache-Control", "public, max-age=31536000, immutable")
	hdr.Set("X-Content-Type-Options", "nosniff")
	_, _ = w.Write(a.data)
}
