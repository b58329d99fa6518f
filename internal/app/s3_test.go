package app_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"image"
	"image/color"
	"image/jpeg"
	"image/png"
	"io"
	"io/fs"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"testing"

	"github.com/johannesboyne/gofakes3"
	"github.com/johannesboyne/gofakes3/backend/s3mem"

	"roster/internal/account"
	"roster/internal/app"
	"roster/internal/testenv"
)

// TestPhotosInS3AcrossInstances: two Rosters on one PostgreSQL database
// keep photos in one S3-compatible bucket (an in-process S3 server): a
// photo uploaded through either is served by the other, it is in the
// bucket and not in either data folder, and a removal through one is
// seen by the other.
func TestPhotosInS3AcrossInstances(t *testing.T) {
	ctx := context.Background()
	backend := s3mem.New()
	s3 := httptest.NewServer(gofakes3.New(backend).Server())
	t.Cleanup(s3.Close)
	if err := backend.CreateBucket("roster-photos"); err != nil {
		t.Fatal(err)
	}
	t.Setenv("AWS_ACCESS_KEY_ID", "roster-test")
	t.Setenv("AWS_SECRET_ACCESS_KEY", "roster-test-secret")
	key := make([]byte, 32)
	if _, err := rand.Read(key); err != nil {
		t.Fatal(err)
	}
	cfg := app.Config{DatabaseURL: testenv.FreshPostgres(t), SecretKey: base64.StdEncoding.EncodeToString(key),
		FilesURL: "s3://roster-photos?region=us-east-1&use_path_style=true&endpoint=" + s3.URL}
	a, b := start(t, "", cfg), start(t, "", cfg)
	if _, err := a.Accounts.Setup(ctx, account.SetupInput{Workspace: "Acme", Name: "Ana", Email: "ana@example.com", Password: "tangerine-violin"}); err != nil {
		t.Fatal(err)
	}
	if _, err := a.Accounts.CreateUser(ctx, account.CreateUserInput{Workspace: "Acme", Name: "Bo", Email: "bo@example.com", Password: "tangerine-violin"}); err != nil {
		t.Fatal(err)
	}
	ana, bo := apiLogin(t, a, "ana@example.com"), apiLogin(t, b, "bo@example.com")

	for _, c := range []struct {
		name       string
		up, down   *running
		tok, other string
	}{{"uploaded through one, served by the other", a, b, ana, bo}, {"and the other way", b, a, bo, ana}} {
		t.Run(c.name, func(t *testing.T) {
			var me struct {
				Photo map[string]string `json:"photo"`
			}
			status, body := apiRequest(t, c.up, http.MethodPut, "/api/v1/me/photo", c.tok, "image/png", photoPNG(t))
			if status != http.StatusOK || json.Unmarshal(body, &me) != nil || me.Photo["128"] == "" {
				t.Fatalf("upload: %d %s", status, body)
			}
			status, img := apiRequest(t, c.down, http.MethodGet, me.Photo["128"], c.other, "", nil)
			if cfg, err := jpeg.DecodeConfig(bytes.NewReader(img)); status != http.StatusOK || err != nil || cfg.Width != 128 {
				t.Fatalf("served by the other instance: %d, %v", status, err)
			}
			if _, same := apiRequest(t, c.up, http.MethodGet, me.Photo["128"], c.tok, "", nil); !bytes.Equal(same, img) {
				t.Fatal("the two instances serve different bytes")
			}
			// In the bucket, under the path the URL names; no data folder has it.
			objects, err := backend.ListBucket("roster-photos", &gofakes3.Prefix{}, gofakes3.ListBucketPage{})
			if err != nil {
				t.Fatal(err)
			}
			var id, version, size int
			if _, err := fmt.Sscanf(me.Photo["128"], "/api/v1/users/%d/photo/%d/%d", &id, &version, &size); err != nil {
				t.Fatalf("photo URL %s: %v", me.Photo["128"], err)
			}
			want, found := fmt.Sprintf("photos/%d/%d/%d.jpg", id, version, size), false
			for _, o := range objects.Contents {
				found = found || o.Key == want
			}
			if !found {
				t.Fatalf("no object %s in the bucket", want)
			}
			for _, inst := range []*running{a, b} {
				if n := filesIn(t, inst.Config.DataDir+"/files"); n != 0 {
					t.Fatalf("%d files in a data folder", n)
				}
			}

			if status, body := apiRequest(t, c.up, http.MethodDelete, "/api/v1/me/photo", c.tok, "", nil); status != http.StatusOK && status != http.StatusNoContent {
				t.Fatalf("remove: %d %s", status, body)
			}
			if status, _ := apiRequest(t, c.down, http.MethodGet, me.Photo["128"], c.other, "", nil); status != http.StatusNotFound {
				t.Fatalf("a removed photo is still served by the other instance: %d", status)
			}
		})
	}
}

// apiLogin signs in through r's API and returns the bearer token.
func apiLogin(t *testing.T, r *running, email string) string {
	t.Helper()
	status, body := apiRequest(t, r, http.MethodPost, "/api/v1/auth/login", "", "application/json",
		[]byte(fmt.Sprintf(`{"email":%q,"password":"tangerine-violin"}`, email)))
	var out struct {
		Token string `json:"token"`
	}
	if status != http.StatusOK || json.Unmarshal(body, &out) != nil || out.Token == "" {
		t.Fatalf("login %s: %d %s", email, status, body)
	}
	return out.Token
}

// apiRequest makes one API request to r and returns the status and body.
func apiRequest(t *testing.T, r *running, method, path, token, contentType string, body []byte) (int, []byte) {
	t.Helper()
	req, err := http.NewRequest(method, r.URL+path, bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	out, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, out
}

// photoPNG is a real 300×200 PNG.
func photoPNG(t *testing.T) []byte {
	t.Helper()
	m := image.NewNRGBA(image.Rect(0, 0, 300, 200))
	for y := range 200 {
		for x := range 300 {
			m.Set(x, y, color.NRGBA{uint8(x), uint8(y), 90, 255})
		}
	}
	var buf bytes.Buffer
	if err := png.Encode(&buf, m); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// filesIn counts the files under dir (none when it does not exist).
func filesIn(t *testing.T, dir string) int {
	t.Helper()
	n := 0
	err := filepath.WalkDir(dir, func(_ string, d fs.DirEntry, err error) error {
		if err != nil {
			if errors.Is(err, fs.ErrNotExist) {
				return nil
			}
			return err
		}
		if !d.IsDir() {
			n++
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return n
}
