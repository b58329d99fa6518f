package api

import (
	"bytes"
	"encoding/json"
	"fmt"
	"image"
	"image/color"
	"image/jpeg"
	"image/png"
	"net/http"
	"strings"
	"testing"

	"roster/internal/core"
	"roster/internal/photo"
	"roster/internal/store"
	"roster/internal/store/storetest"
)

// testPNG is a real w×h PNG.
func testPNG(t *testing.T, w, h int) []byte {
	t.Helper()
	m := image.NewNRGBA(image.Rect(0, 0, w, h))
	for y := range h {
		for x := range w {
			m.Set(x, y, color.NRGBA{uint8(x), uint8(y), 200, 255})
		}
	}
	var buf bytes.Buffer
	if err := png.Encode(&buf, m); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// photoURLsOf returns the photo object of a user JSON, or nil for null.
func photoURLsOf(t *testing.T, u map[string]any) map[string]string {
	t.Helper()
	v, ok := u["photo"]
	if !ok {
		t.Fatalf("no photo key in %v", u)
	}
	if v == nil {
		return nil
	}
	out := map[string]string{}
	for k, s := range v.(map[string]any) {
		out[k] = s.(string)
	}
	return out
}

func TestPhotoUpload(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		e := newEnv(t, db, envOpts{deps: roomy})
		bob := e.user("Acme", "Bob", "bob@example.com", core.RoleUser)
		e.user("Other", "Olga", "olga@example.com", core.RoleUser)
		bobTok, olgaTok := e.login("bob@example.com"), e.login("olga@example.com")
		img := testPNG(t, 300, 200)

		u := e.do("PUT", "/me/photo", string(img), bearer(bobTok), header("Content-Type", "image/png")).status(http.StatusOK).json()
		urls := photoURLsOf(t, u)
		if len(urls) != len(photo.Sizes) {
			t.Fatalf("photo %v", urls)
		}
		prefix := fmt.Sprintf("%s/users/%d/photo/", Prefix, bob.ID)
		for _, size := range photo.Sizes {
			url := urls[fmt.Sprint(size)]
			if !strings.HasPrefix(url, prefix) || !strings.HasSuffix(url, fmt.Sprintf("/%d", size)) {
				t.Errorf("size %d: URL %q", size, url)
			}
		}
		if got := photoURLsOf(t, e.do("GET", "/me", "", bearer(bobTok)).json()); got["128"] != urls["128"] {
			t.Errorf("GET /me photo %v", got)
		}

		// The URL serves a JPEG of that size, cacheable for good, to the whole workspace.
		path := strings.TrimPrefix(urls["128"], Prefix)
		r := e.do("GET", path, "", bearer(e.adminSession)).status(http.StatusOK)
		if ct := r.header.Get("Content-Type"); ct != "image/jpeg" {
			t.Errorf("Content-Type %q", ct)
		}
		if cc := r.header.Get("Cache-Control"); cc != photo.CacheControl {
			t.Errorf("Cache-Control %q", cc)
		}
		cfg, err := jpeg.DecodeConfig(bytes.NewReader(r.body))
		if err != nil || cfg.Width != 128 || cfg.Height != 128 {
			t.Errorf("served image %dx%d (%v)", cfg.Width, cfg.Height, err)
		}
		etag := r.header.Get("ETag")
		if etag == "" {
			t.Fatal("no ETag")
		}
		r = e.do("GET", path, "", bearer(bobTok), header("If-None-Match", etag)).status(http.StatusNotModified)
		if len(r.body) != 0 {
			t.Errorf("304 with a body")
		}
		e.do("GET", path, "").problem(http.StatusUnauthorized)
		e.do("GET", path, "", bearer(olgaTok)).problem(http.StatusNotFound)
		e.do("GET", strings.TrimSuffix(path, "/128")+"/64", "", bearer(bobTok)).problem(http.StatusNotFound)

		// A lying Content-Type does not matter: the content decides.
		u = e.do("PUT", "/me/photo", string(testPNG(t, 64, 64)), bearer(bobTok), header("Content-Type", "image/jpeg")).status(http.StatusOK).json()
		newURLs := photoURLsOf(t, u)
		if newURLs["128"] == urls["128"] {
			t.Fatal("new photo kept its URL")
		}
		e.do("GET", path, "", bearer(bobTok)).problem(http.StatusNotFound) // the replaced version is gone
		e.do("GET", strings.TrimPrefix(newURLs["48"], Prefix), "", bearer(bobTok)).status(http.StatusOK)

		// Bad uploads: 422 at body, translated; nothing changes.
		e.update(bob, func(u *core.User) { u.Language = "id" })
		html := `<!doctype html><html><body><script>alert(1)</script></body></html>`
		for name, c := range map[string]struct {
			body, key string
			data      map[string]any
		}{
			"html labelled png": {html, photo.KeyUnsupported, nil},
			"truncated png":     {string(img[:len(img)/2]), photo.KeyCorrupt, nil},
			"png header only":   {string(img[:40]), photo.KeyCorrupt, nil},
		} {
			p := e.do("PUT", "/me/photo", c.body, bearer(bobTok), header("Content-Type", "image/png")).problem(http.StatusUnprocessableEntity)
			if len(p.Errors) != 1 || p.Errors[0].Location != "body" || p.Errors[0].Message != e.msg("id", c.key, c.data) {
				t.Errorf("%s: %+v", name, p)
			}
		}
		if got := photoURLsOf(t, e.do("GET", "/me", "", bearer(bobTok)).json()); got["128"] != newURLs["128"] {
			t.Errorf("refused upload changed the photo: %v", got)
		}
		// Not an image type at all: 415 before the body is read.
		p := e.do("PUT", "/me/photo", `{"photo":"x"}`, bearer(bobTok)).problem(http.StatusUnsupportedMediaType)
		if p.Detail != e.msg("id", keyPhotoType, map[string]any{"Types": strings.Join(photoTypes, ", ")}) {
			t.Errorf("415 detail %q", p.Detail)
		}
		e.do("PUT", "/me/photo", "", bearer(bobTok), header("Content-Type", "image/png")).problem(http.StatusBadRequest)
		// Over 10 MB: 413.
		big := append(append([]byte{}, img...), bytes.Repeat([]byte{0}, photo.MaxUploadBytes+1-len(img))...)
		p = e.do("PUT", "/me/photo", string(big), bearer(bobTok), header("Content-Type", "application/octet-stream")).
			problem(http.StatusRequestEntityTooLarge)
		if p.Detail != e.msg("id", "errors.body_too_large", nil) {
			t.Errorf("413 detail %q", p.Detail)
		}

		// Others' photos: admins yes, normal users no, other workspaces 404.
		e.do("PUT", fmt.Sprintf("/users/%d/photo", e.admin.ID), string(img), bearer(bobTok), header("Content-Type", "image/png")).
			problem(http.StatusForbidden)
		u = e.do("PUT", fmt.Sprintf("/users/%d/photo", bob.ID), string(img), bearer(e.adminSession), header("Content-Type", "image/png")).
			status(http.StatusOK).json()
		if photoURLsOf(t, u) == nil {
			t.Errorf("admin upload: %v", u)
		}
		e.do("DELETE", fmt.Sprintf("/users/%d/photo", e.admin.ID), "", bearer(bobTok)).problem(http.StatusForbidden)

		// Removed: null, and the URLs stop working.
		last := photoURLsOf(t, u)
		u = e.do("DELETE", "/me/photo", "", bearer(bobTok)).status(http.StatusOK).json()
		if photoURLsOf(t, u) != nil {
			t.Errorf("after DELETE: %v", u["photo"])
		}
		e.do("GET", strings.TrimPrefix(last["512"], Prefix), "", bearer(bobTok)).problem(http.StatusNotFound)
		e.do("DELETE", fmt.Sprintf("/users/%d/photo", bob.ID), "", bearer(e.adminSession)).status(http.StatusOK)
	})
}

func TestProfileOpenAPI(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		e := newEnv(t, db, envOpts{deps: roomy})
		r := e.do("GET", "/openapi.json", "").status(http.StatusOK)
		var doc struct {
			Info struct {
				Description string `json:"description"`
			} `json:"info"`
			Paths map[string]map[string]struct {
				RequestBody struct {
					Content map[string]any `json:"content"`
				} `json:"requestBody"`
				Responses   map[string]struct{ Content map[string]any } `json:"responses"`
				Description string                                      `json:"description"`
			} `json:"paths"`
		}
		if err := json.Unmarshal(r.body, &doc); err != nil {
			t.Fatal(err)
		}
		for _, want := range []string{
			"PATCH /me", "PATCH /users/{id}", "POST /me/email-change", "DELETE /me/email-change",
			"POST /users/{id}/email-change", "DELETE /users/{id}/email-change", "POST /me/password",
			"POST /users/{id}/password-reset", "GET /users/{id}/audit", "PUT /me/photo", "DELETE /me/photo",
			"PUT /users/{id}/photo", "DELETE /users/{id}/photo", "GET /users/{id}/photo/{version}/{size}",
		} {
			method, path, _ := strings.Cut(want, " ")
			if _, ok := doc.Paths[Prefix+path][strings.ToLower(method)]; !ok {
				t.Errorf("%s missing from the document", want)
			}
		}
		put := doc.Paths[Prefix+"/me/photo"]["put"]
		for _, ct := range photoTypes {
			if _, ok := put.RequestBody.Content[ct]; !ok {
				t.Errorf("PUT /me/photo does not list %s", ct)
			}
		}
		get := doc.Paths[Prefix+"/users/{id}/photo/{version}/{size}"]["get"]
		if _, ok := get.Responses["200"].Content["image/jpeg"]; !ok {
			t.Errorf("photo GET responses %v", get.Responses)
		}
		if !strings.Contains(doc.Info.Description, ProblemTwoFactorEnabled) ||
			!strings.Contains(doc.Paths[Prefix+"/me/email-change"]["post"].Description, ProblemTwoFactorEnabled) {
			t.Error("the two-factor problem type is not documented")
		}
		if !strings.Contains(doc.Paths[Prefix+"/me"]["patch"].Description, "email-change") {
			t.Error("PATCH /me does not point to the email change")
		}
	})
}
