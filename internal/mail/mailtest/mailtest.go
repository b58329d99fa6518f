// Package mailtest runs a real SMTP server in-process for tests. It stores
// what it receives, counts connections, can require AUTH PLAIN, and can be
// told to reject the next deliveries with a temporary or permanent reply.
package mailtest

import (
	"fmt"
	"io"
	"net"
	"sync"
	"testing"
	"time"

	"github.com/emersion/go-sasl"
	"github.com/emersion/go-smtp"
)

// Received is one message as the server got it.
type Received struct {
	From string
	To   []string
	Data []byte // raw RFC 5322 message
}

// Server is an SMTP server listening on 127.0.0.1.
type Server struct {
	srv *smtp.Server
	ln  net.Listener

	mu         sync.Mutex
	msgs       []Received
	conns      int
	open       []net.Conn // accepted connections, for DropConnections
	failCount  int
	failCode   int
	user, pass string
	changed    chan struct{} // closed and replaced on every new message
	discard    bool          // count messages, keep none (benchmarks)
	count      int
}

// NewServer starts a server on a free port; it stops when the test ends.
func NewServer(t testing.TB) *Server {
	t.Helper()
	s := &Server{changed: make(chan struct{})}
	s.srv = smtp.NewServer(smtp.BackendFunc(s.newSession))
	s.srv.Domain = "localhost"
	s.srv.AllowInsecureAuth = true // AUTH PLAIN without TLS, for tests
	s.srv.ReadTimeout = time.Minute
	s.srv.WriteTimeout = time.Minute
	s.srv.MaxMessageBytes = 10 << 20
	s.srv.EnableSMTPUTF8 = true
	s.srv.ErrorLog = discardLogger{}

	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("mailtest: listen: %v", err)
	}
	s.ln = &countingListener{Listener: ln, s: s}
	go func() { _ = s.srv.Serve(s.ln) }()
	t.Cleanup(func() { _ = s.srv.Close() })
	return s
}

// Addr returns host:port.
func (s *Server) Addr() string { return s.ln.Addr().String() }

// URL returns an smtp:// URL for the server, with credentials when
// RequireAuth was called.
func (s *Server) URL() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.user != "" {
		return fmt.Sprintf("smtp://%s:%s@%s", s.user, s.pass, s.Addr())
	}
	return "smtp://" + s.Addr()
}

// RequireAuth makes the server advertise AUTH PLAIN and refuse mail from
// sessions that did not log in with user and pass.
func (s *Server) RequireAuth(user, pass string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.user, s.pass = user, pass
}

// FailNext makes the next n deliveries fail at RCPT TO with code: a 4xx
// code gives a temporary failure (451 "try again later"), a 5xx code a
// permanent one (550 "mailbox unavailable").
func (s *Server) FailNext(n, code int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.failCount, s.failCode = n, code
}

// Connections returns how many connections the server has accepted.
func (s *Server) Connections() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.conns
}

// DropConnections closes every connection accepted so far, as a server
// restart or idle timeout would, to test that clients reconnect.
func (s *Server) DropConnections() {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, c := range s.open {
		_ = c.Close()
	}
	s.open = nil
}

// Discard makes the server count messages without keeping them, for
// benchmarks that send more than memory should hold.
func (s *Server) Discard() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.discard = true
}

// Count returns how many messages arrived, kept or not.
func (s *Server) Count() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.count
}

// Messages returns the messages received so far.
func (s *Server) Messages() []Received {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]Received(nil), s.msgs...)
}

// WaitFor waits until at least n messages arrived and returns them; it
// fails the test after timeout.
func (s *Server) WaitFor(t testing.TB, n int, timeout time.Duration) []Received {
	t.Helper()
	deadline := time.After(timeout)
	for {
		s.mu.Lock()
		got, changed := len(s.msgs), s.changed
		s.mu.Unlock()
		if got >= n {
			return s.Messages()
		}
		select {
		case <-changed:
		case <-deadline:
			t.Fatalf("mailtest: got %d messages within %s, want %d", got, timeout, n)
		}
	}
}

func (s *Server) newSession(*smtp.Conn) (smtp.Session, error) {
	return &session{s: s}, nil
}

// nextFailure consumes one planned failure, if any.
func (s *Server) nextFailure() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.failCount <= 0 {
		return nil
	}
	s.failCount--
	if s.failCode >= 500 {
		return &smtp.SMTPError{Code: s.failCode, EnhancedCode: smtp.EnhancedCode{5, 1, 1}, Message: "Mailbox unavailable"}
	}
	return &smtp.SMTPError{Code: s.failCode, EnhancedCode: smtp.EnhancedCode{4, 3, 0}, Message: "Temporary failure, try again later"}
}

func (s *Server) store(r Received) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.count++
	if !s.discard {
		s.msgs = append(s.msgs, r)
	}
	close(s.changed)
	s.changed = make(chan struct{})
}

// session is one SMTP session; it implements smtp.AuthSession.
type session struct {
	s      *Server
	authed bool
	from   string
	to     []string
}

func (ss *session) authRequired() bool {
	ss.s.mu.Lock()
	defer ss.s.mu.Unlock()
	return ss.s.user != "" && !ss.authed
}

func (ss *session) AuthMechanisms() []string {
	ss.s.mu.Lock()
	defer ss.s.mu.Unlock()
	if ss.s.user == "" {
		return nil
	}
	return []string{sasl.Plain}
}

func (ss *session) Auth(string) (sasl.Server, error) {
	return sasl.NewPlainServer(func(_, user, pass string) error {
		ss.s.mu.Lock()
		ok := user == ss.s.user && pass == ss.s.pass
		ss.s.mu.Unlock()
		if !ok {
			return smtp.ErrAuthFailed
		}
		ss.authed = true
		return nil
	}), nil
}

func (ss *session) Mail(from string, _ *smtp.MailOptions) error {
	if ss.authRequired() {
		return smtp.ErrAuthRequired
	}
	ss.from = from
	return nil
}

func (ss *session) Rcpt(to string, _ *smtp.RcptOptions) error {
	if ss.authRequired() {
		return smtp.ErrAuthRequired
	}
	if err := ss.s.nextFailure(); err != nil {
		return err
	}
	ss.to = append(ss.to, to)
	return nil
}

func (ss *session) Data(r io.Reader) error {
	data, err := io.ReadAll(r)
	if err != nil {
		return err
	}
	ss.s.store(Received{From: ss.from, To: append([]string(nil), ss.to...), Data: data})
	return nil
}

func (ss *session) Reset() { ss.from, ss.to = "", nil }

func (ss *session) Logout() error { return nil }

// countingListener counts accepted connections.
type countingListener struct {
	net.Listener
	s *Server
}

func (l *countingListener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err == nil {
		l.s.mu.Lock()
		l.s.conns++
		l.s.open = append(l.s.open, c)
		l.s.mu.Unlock()
	}
	return c, err
}

type discardLogger struct{}

func (discardLogger) Printf(string, ...any) {}
func (discardLogger) Println(...any)        {}
