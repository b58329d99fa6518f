package web

import (
	"bytes"
	"context"
	"mime/multipart"
	"net/http"
	"net/http/httptest"
	"testing"

	"roster/internal/auth"
	"roster/internal/photo"
	"roster/internal/store"
	"roster/internal/store/storetest"
)

// FuzzPhotoForm posts any multipart body, under any Content-Type header,
// to the page's photo upload as a signed-in person: the multipart reader,
// the form limits and the image checks behind them. No answer is a 5xx
// (503 for a busy decoder aside), and a refused upload leaves the photo
// as it was.
func FuzzPhotoForm(f *testing.F) {
	e := newEnv(f, storetest.Open(f, store.SQLite))
	admin := e.setup("en")
	cookie := e.login(admin.Email)
	valid := func(data []byte) (string, []byte) {
		var buf bytes.Buffer
		mw := multipart.NewWriter(&buf)
		fw, _ := mw.CreateFormFile("photo", "me.png")
		_, _ = fw.Write(data)
		_ = mw.Close()
		return mw.FormDataContentType(), buf.Bytes()
	}
	for _, data := range [][]byte{nil, []byte("not an image"), photo.Bombs()["png"], photo.Bombs()["gif"]} {
		ct, body := valid(data)
		f.Add(ct, body)
	}
	f.Add("multipart/form-data; boundary=b", []byte("--b\r\nContent-Disposition: form-data; name=\"photo\"\r\n\r\n\r\n--b--\r\n"))
	f.Add("multipart/form-data", []byte("--\r\n"))
	f.Add("multipart/form-data; boundary=\"", []byte(""))
	f.Add("application/x-www-form-urlencoded", []byte("photo=x"))
	version := func(t *testing.T) int64 {
		u, err := e.db.Reader().User(context.Background(), admin.ID)
		if err != nil {
			t.Fatal(err)
		}
		return u.PhotoVersion
	}
	f.Fuzz(func(t *testing.T, contentType string, body []byte) {
		before := version(t)
		hr := httptest.NewRequest("POST", "/settings/profile/photo", bytes.NewReader(body))
		hr.Header.Set("Content-Type", contentType)
		hr.AddCookie(&http.Cookie{Name: auth.CookieName, Value: cookie})
		w := httptest.NewRecorder()
		e.srv.ServeHTTP(w, hr)
		// The busy decoder's 503 says when to come back; any other 5xx is a bug.
		if w.Code >= 500 && (w.Code != http.StatusServiceUnavailable || w.Header().Get("Retry-After") == "") {
			t.Fatalf("%d for Content-Type %q and %d bytes: %.300s", w.Code, contentType, len(body), w.Body.String())
		}
		if w.Code >= 400 && version(t) != before {
			t.Fatalf("a refused upload (%d) changed the photo", w.Code)
		}
	})
}
