package photo

import (
	"bytes"
	"errors"
	"io"
	"io/fs"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"roster/internal/core"
)

func testImages(t *testing.T) map[int][]byte {
	t.Helper()
	res, err := Process(t.Context(), bytes.NewReader(encPNG(t, fill(20, 20, green, nil))))
	if err != nil {
		t.Fatal(err)
	}
	return res.Images
}

func openTestStore(t *testing.T, url, dataDir string) *Store {
	t.Helper()
	s, err := OpenStore(t.Context(), url, dataDir)
	if err != nil {
		t.Fatalf("OpenStore(%q): %v", url, err)
	}
	t.Cleanup(func() {
		if err := s.Close(); err != nil {
			t.Error(err)
		}
	})
	return s
}

func TestStoreRoundTrip(t *testing.T) {
	images := testImages(t)
	defaultDir := t.TempDir()
	urlDir := filepath.Join(t.TempDir(), "made", "by", "create_dir")
	cases := []struct {
		name, url, dataDir, folder string
	}{
		{"default folder", "", defaultDir, filepath.Join(defaultDir, "files")},
		{"file url", "file://" + filepath.ToSlash(urlDir), "", urlDir},
		{"memory", "mem://", "", ""},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			ctx := t.Context()
			s := openTestStore(t, tc.url, tc.dataDir)
			if err := s.PutPhoto(ctx, 7, 3, images); err != nil {
				t.Fatal(err)
			}
			// Another version of the same user must survive the delete.
			if err := s.PutPhoto(ctx, 7, 4, images); err != nil {
				t.Fatal(err)
			}
			for _, size := range Sizes {
				rc, n, err := s.OpenPhoto(ctx, 7, 3, size)
				if err != nil {
					t.Fatal(err)
				}
				got, err := io.ReadAll(rc)
				rc.Close()
				if err != nil {
					t.Fatal(err)
				}
				if !bytes.Equal(got, images[size]) || n != int64(len(got)) {
					t.Errorf("size %d: got %d bytes (n=%d), want %d", size, len(got), n, len(images[size]))
				}
			}
			if tc.folder != "" {
				want := filepath.Join(tc.folder, "photos", "7", "3", "512.jpg")
				var files []string
				err := filepath.WalkDir(tc.folder, func(p string, d fs.DirEntry, err error) error {
					if err == nil && !d.IsDir() {
						files = append(files, p)
					}
					return err
				})
				if err != nil {
					t.Fatal(err)
				}
				found := false
				for _, f := range files {
					found = found || f == want
					if strings.HasSuffix(f, ".attrs") {
						t.Errorf("sidecar file %s written", f)
					}
				}
				if !found || len(files) != 2*len(Sizes) {
					t.Errorf("files %v, want %s among %d", files, want, 2*len(Sizes))
				}
			}
			if _, _, err := s.OpenPhoto(ctx, 7, 3, 100); !errors.Is(err, core.ErrNotFound) {
				t.Errorf("unknown size: %v", err)
			}
			if _, _, err := s.OpenPhoto(ctx, 8, 3, 48); !errors.Is(err, core.ErrNotFound) {
				t.Errorf("missing photo: %v", err)
			}
			if err := s.DeletePhoto(ctx, 7, 3); err != nil {
				t.Fatal(err)
			}
			for _, size := range Sizes {
				if _, _, err := s.OpenPhoto(ctx, 7, 3, size); !errors.Is(err, core.ErrNotFound) {
					t.Errorf("after delete, size %d: %v", size, err)
				}
				rc, _, err := s.OpenPhoto(ctx, 7, 4, size)
				if err != nil {
					t.Errorf("other version, size %d: %v", size, err)
					continue
				}
				rc.Close()
			}
			if err := s.DeletePhoto(ctx, 7, 3); err != nil {
				t.Errorf("deleting again: %v", err)
			}
			if err := s.DeletePhoto(ctx, 99, 1); err != nil {
				t.Errorf("deleting what never existed: %v", err)
			}
		})
	}
}

func TestPutPhotoNeedsEverySize(t *testing.T) {
	s := openTestStore(t, "mem://", "")
	images := testImages(t)
	delete(images, 48)
	if err := s.PutPhoto(t.Context(), 1, 1, images); err == nil {
		t.Error("missing size accepted")
	}
	images[48], images[64] = images[128], images[128]
	if err := s.PutPhoto(t.Context(), 1, 1, images); err == nil {
		t.Error("extra size accepted")
	}
}

func TestOpenStoreErrors(t *testing.T) {
	if _, err := OpenStore(t.Context(), "nosuch://bucket", ""); err == nil {
		t.Error("unknown scheme accepted")
	}
	if _, err := OpenStore(t.Context(), "file:///x?bogus=1", ""); err == nil {
		t.Error("unknown file:// parameter accepted")
	}
}

func TestServePhoto(t *testing.T) {
	s := openTestStore(t, "mem://", "")
	images := testImages(t)
	if err := s.PutPhoto(t.Context(), 5, 9, images); err != nil {
		t.Fatal(err)
	}
	serve := func(method string, userID, version int64, size int, inm string) *httptest.ResponseRecorder {
		r := httptest.NewRequestWithContext(t.Context(), method, "/photos/x", nil)
		if inm != "" {
			r.Header.Set("If-None-Match", inm)
		}
		w := httptest.NewRecorder()
		s.ServePhoto(w, r, userID, version, size)
		return w
	}

	w := serve(http.MethodGet, 5, 9, 128, "")
	if w.Code != http.StatusOK || !bytes.Equal(w.Body.Bytes(), images[128]) {
		t.Fatalf("GET: %d, %d bytes", w.Code, w.Body.Len())
	}
	for k, v := range map[string]string{
		"Content-Type":           "image/jpeg",
		"Cache-Control":          "private, max-age=31536000, immutable",
		"ETag":                   `"5-9-128"`,
		"X-Content-Type-Options": "nosniff",
		"Content-Length":         strconv.Itoa(len(images[128])),
	} {
		if got := w.Header().Get(k); got != v {
			t.Errorf("%s: %q, want %q", k, got, v)
		}
	}

	for _, inm := range []string{`"5-9-128"`, `W/"5-9-128"`, `"other", "5-9-128"`, `*`} {
		w = serve(http.MethodGet, 5, 9, 128, inm)
		if w.Code != http.StatusNotModified || w.Body.Len() != 0 || w.Header().Get("ETag") != `"5-9-128"` {
			t.Errorf("If-None-Match %s: %d, %d bytes", inm, w.Code, w.Body.Len())
		}
	}
	if w = serve(http.MethodGet, 5, 9, 128, `"5-9-48"`); w.Code != http.StatusOK {
		t.Errorf("other ETag: %d", w.Code)
	}
	if w = serve(http.MethodHead, 5, 9, 48, ""); w.Code != http.StatusOK || w.Body.Len() != 0 {
		t.Errorf("HEAD: %d, %d bytes", w.Code, w.Body.Len())
	}
	if w = serve(http.MethodGet, 5, 9, 100, ""); w.Code != http.StatusNotFound {
		t.Errorf("unknown size: %d", w.Code)
	}
	w = serve(http.MethodGet, 5, 10, 48, "")
	if w.Code != http.StatusNotFound || w.Header().Get("Cache-Control") != "" {
		t.Errorf("missing version: %d, Cache-Control %q", w.Code, w.Header().Get("Cache-Control"))
	}
}
