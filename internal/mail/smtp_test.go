package mail_test

import (
	"bytes"
	"context"
	"errors"
	"io"
	"mime"
	"mime/multipart"
	"mime/quotedprintable"
	netmail "net/mail"
	"strings"
	"sync"
	"testing"
	"time"

	"roster/internal/mail"
	"roster/internal/mail/mailtest"
)

const waitTimeout = 30 * time.Second

func newSMTP(t *testing.T, url string) *mail.SMTP {
	t.Helper()
	s, err := mail.NewSMTP(mail.SMTPConfig{URL: url, From: "Roster <roster@example.com>", Timeout: 10 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

var sample = mail.Message{
	To:      "ana@example.org",
	Subject: "Приглашение в Roster",
	Text:    "Hello Ana,\nopen https://roster.example/accept?t=abc\n",
	HTML:    `<p>Hello Ana, <a href="https://roster.example/accept?t=abc">accept</a></p>`,
	Lang:    "ru",
}

// part is one decoded MIME part.
type part struct {
	contentType string
	body        string
}

// parse reads a raw message and returns its header and decoded parts.
func parse(t *testing.T, raw []byte) (netmail.Header, string, []part) {
	t.Helper()
	msg, err := netmail.ReadMessage(bytes.NewReader(raw))
	if err != nil {
		t.Fatalf("parse message: %v\n%s", err, raw)
	}
	mediaType, params, err := mime.ParseMediaType(msg.Header.Get("Content-Type"))
	if err != nil {
		t.Fatal(err)
	}
	var parts []part
	if strings.HasPrefix(mediaType, "multipart/") {
		mr := multipart.NewReader(msg.Body, params["boundary"])
		for {
			p, err := mr.NextPart()
			if err == io.EOF {
				break
			}
			if err != nil {
				t.Fatal(err)
			}
			// multipart.Reader decodes quoted-printable itself; base64
			// is left to us.
			var r io.Reader = p
			if strings.EqualFold(p.Header.Get("Content-Transfer-Encoding"), "quoted-printable") {
				r = quotedprintable.NewReader(p)
			}
			body, err := io.ReadAll(r)
			if err != nil {
				t.Fatal(err)
			}
			ct, _, _ := mime.ParseMediaType(p.Header.Get("Content-Type"))
			parts = append(parts, part{contentType: ct, body: strings.ReplaceAll(string(body), "\r\n", "\n")})
		}
	}
	return msg.Header, mediaType, parts
}

func TestSMTPSendsMultipartAlternative(t *testing.T) {
	srv := mailtest.NewServer(t)
	s := newSMTP(t, srv.URL())

	if err := s.Send(context.Background(), sample); err != nil {
		t.Fatal(err)
	}
	got := srv.WaitFor(t, 1, waitTimeout)[0]
	if got.From != "roster@example.com" || len(got.To) != 1 || got.To[0] != "ana@example.org" {
		t.Fatalf("envelope = %q -> %q", got.From, got.To)
	}

	h, mediaType, parts := parse(t, got.Data)
	if mediaType != "multipart/alternative" {
		t.Fatalf("Content-Type = %s, want multipart/alternative", mediaType)
	}
	dec := new(mime.WordDecoder)
	subject, err := dec.DecodeHeader(h.Get("Subject"))
	if err != nil {
		t.Fatal(err)
	}
	for name, want := range map[string]string{
		"Subject":          sample.Subject,
		"Content-Language": "ru",
		"Auto-Submitted":   "auto-generated",
	} {
		v := h.Get(name)
		if name == "Subject" {
			v = subject
		}
		if v != want {
			t.Errorf("%s = %q, want %q", name, v, want)
		}
	}
	from, err := h.AddressList("From")
	if err != nil || len(from) != 1 || from[0].Address != "roster@example.com" || from[0].Name != "Roster" {
		t.Errorf("From = %v (%v)", from, err)
	}
	to, err := h.AddressList("To")
	if err != nil || len(to) != 1 || to[0].Address != "ana@example.org" {
		t.Errorf("To = %v (%v)", to, err)
	}
	if h.Get("Message-ID") == "" || h.Get("Date") == "" {
		t.Errorf("Message-ID or Date missing: %v", h)
	}

	if len(parts) != 2 {
		t.Fatalf("got %d parts, want 2", len(parts))
	}
	// Text first, HTML last: clients show the last part they understand.
	if parts[0].contentType != "text/plain" || parts[1].contentType != "text/html" {
		t.Fatalf("part types = %s, %s", parts[0].contentType, parts[1].contentType)
	}
	if strings.TrimSpace(parts[0].body) != strings.TrimSpace(sample.Text) {
		t.Errorf("text part = %q", parts[0].body)
	}
	if strings.TrimSpace(parts[1].body) != sample.HTML {
		t.Errorf("HTML part = %q", parts[1].body)
	}
}

func TestSMTPReusesConnection(t *testing.T) {
	srv := mailtest.NewServer(t)
	s := newSMTP(t, srv.URL())
	for range 3 {
		if err := s.Send(context.Background(), sample); err != nil {
			t.Fatal(err)
		}
	}
	srv.WaitFor(t, 3, waitTimeout)
	if n := srv.Connections(); n != 1 {
		t.Fatalf("server saw %d connections for 3 sends, want 1", n)
	}
}

// TestSMTPConnectionsBounded: concurrent sends share at most Connections
// connections, and every mail arrives.
func TestSMTPConnectionsBounded(t *testing.T) {
	srv := mailtest.NewServer(t)
	s, err := mail.NewSMTP(mail.SMTPConfig{URL: srv.URL(), From: "roster@example.com", Connections: 3})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = s.Close() })
	var wg sync.WaitGroup
	for range 60 {
		wg.Go(func() {
			if err := s.Send(context.Background(), sample); err != nil {
				t.Error(err)
			}
		})
	}
	wg.Wait()
	srv.WaitFor(t, 60, waitTimeout)
	if n := srv.Connections(); n < 1 || n > 3 {
		t.Fatalf("server saw %d connections for 60 concurrent sends, want at most 3", n)
	}
}

func TestSMTPRedialsWhenConnectionDropped(t *testing.T) {
	srv := mailtest.NewServer(t)
	s := newSMTP(t, srv.URL())
	ctx := context.Background()
	if err := s.Send(ctx, sample); err != nil {
		t.Fatal(err)
	}
	srv.DropConnections()
	if err := s.Send(ctx, sample); err != nil {
		t.Fatalf("send after the server dropped the connection: %v", err)
	}
	srv.WaitFor(t, 2, waitTimeout)
	if n := srv.Connections(); n != 2 {
		t.Fatalf("connections = %d, want 2", n)
	}
}

func TestSMTPClose(t *testing.T) {
	srv := mailtest.NewServer(t)
	s := newSMTP(t, srv.URL())
	if err := s.Send(context.Background(), sample); err != nil {
		t.Fatal(err)
	}
	s.Close()
	if err := s.Send(context.Background(), sample); err == nil {
		t.Fatal("send after Close succeeded")
	}
}

func TestSMTPAuth(t *testing.T) {
	srv := mailtest.NewServer(t)
	srv.RequireAuth("roster", "s3cret")

	if err := newSMTP(t, srv.URL()).Send(context.Background(), sample); err != nil {
		t.Fatalf("send with credentials: %v", err)
	}
	srv.WaitFor(t, 1, waitTimeout)

	bad := strings.Replace(srv.URL(), "s3cret", "wrong", 1)
	err := newSMTP(t, bad).Send(context.Background(), sample)
	if err == nil {
		t.Fatal("send with a wrong password succeeded")
	}
	if mail.IsPermanent(err) {
		t.Fatalf("auth failure counted as permanent: %v", err)
	}
	if strings.Contains(err.Error(), "wrong") {
		t.Fatalf("error leaks the password: %v", err)
	}
}

func TestSMTPFailureClasses(t *testing.T) {
	srv := mailtest.NewServer(t)
	s := newSMTP(t, srv.URL())
	ctx := context.Background()

	srv.FailNext(1, 451)
	err := s.Send(ctx, sample)
	if err == nil {
		t.Fatal("451 reply: no error")
	}
	if mail.IsPermanent(err) {
		t.Fatalf("451 counted as permanent: %v", err)
	}

	srv.FailNext(1, 550)
	err = s.Send(ctx, sample)
	if err == nil {
		t.Fatal("550 reply: no error")
	}
	if !mail.IsPermanent(err) {
		t.Fatalf("550 not counted as permanent: %v", err)
	}

	// A rejected recipient leaves the connection usable.
	if err := s.Send(ctx, sample); err != nil {
		t.Fatalf("send after rejections: %v", err)
	}
	srv.WaitFor(t, 1, waitTimeout)
	if n := srv.Connections(); n != 1 {
		t.Fatalf("connections = %d, want 1", n)
	}
}

func TestSMTPBadRecipientIsPermanent(t *testing.T) {
	srv := mailtest.NewServer(t)
	err := newSMTP(t, srv.URL()).Send(context.Background(), mail.Message{To: "not an address", Subject: "x", Text: "x"})
	if !mail.IsPermanent(err) {
		t.Fatalf("bad address: err = %v, want permanent", err)
	}
}

func TestSMTPNetworkErrorIsTemporary(t *testing.T) {
	// Nothing listens on port 1 of localhost.
	err := newSMTP(t, "smtp://127.0.0.1:1").Send(context.Background(), sample)
	if err == nil {
		t.Fatal("send to a closed port succeeded")
	}
	if mail.IsPermanent(err) {
		t.Fatalf("connection refused counted as permanent: %v", err)
	}
}

func TestNewSMTPValidates(t *testing.T) {
	for _, tc := range []struct {
		url, from string
	}{
		{"http://mail.example.com", "a@example.com"},
		{"smtp://", "a@example.com"},
		{"smtp://mail.example.com:99999", "a@example.com"},
		{"smtp://mail.example.com?foo=1", "a@example.com"},
		{"smtp://mail.example.com/path", "a@example.com"},
		{"smtp://mail.example.com", ""},
		{"smtp://mail.example.com", "not an address"},
	} {
		if _, err := mail.NewSMTP(mail.SMTPConfig{URL: tc.url, From: tc.from}); err == nil {
			t.Errorf("NewSMTP(%q, %q) accepted", tc.url, tc.from)
		}
	}
	for _, url := range []string{
		"smtp://mail.example.com",
		"smtp://user:pa%20ss@mail.example.com:25",
		"smtps://user:pass@mail.example.com?insecure_skip_verify=1",
	} {
		if _, err := mail.NewSMTP(mail.SMTPConfig{URL: url, From: "Roster <r@example.com>"}); err != nil {
			t.Errorf("NewSMTP(%q): %v", url, err)
		}
	}
	_, err := mail.NewSMTP(mail.SMTPConfig{URL: "smtp://u:topsecret@mail example.com", From: "r@example.com"})
	if err == nil || strings.Contains(err.Error(), "topsecret") {
		t.Errorf("bad URL error = %v; must fail without echoing the password", err)
	}
}

func TestIsPermanentNil(t *testing.T) {
	if mail.IsPermanent(nil) || mail.IsPermanent(errors.New("boom")) || mail.IsPermanent(context.DeadlineExceeded) {
		t.Fatal("plain errors must be temporary")
	}
}

// TestSMTPKeepsAGivenMessageID: a Message with a MessageID goes out with
// it; one without gets a random one.
func TestSMTPKeepsAGivenMessageID(t *testing.T) {
	srv := mailtest.NewServer(t)
	s := newSMTP(t, srv.URL())
	given := sample
	given.MessageID = "delivery.41.1765000000000@roster.example"
	for _, m := range []mail.Message{given, given, sample} {
		if err := s.Send(context.Background(), m); err != nil {
			t.Fatal(err)
		}
	}
	got := srv.WaitFor(t, 3, waitTimeout)
	var ids []string
	for _, m := range got {
		h, _, _ := parse(t, m.Data)
		ids = append(ids, h.Get("Message-ID"))
	}
	if ids[0] != "<delivery.41.1765000000000@roster.example>" || ids[1] != ids[0] || ids[2] == ids[0] || ids[2] == "" {
		t.Fatalf("Message-IDs: %q", ids)
	}
}
