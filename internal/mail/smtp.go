package mail

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net/url"
	"strconv"
	"sync"
	"time"

	gomail "github.com/wneessen/go-mail"
	gosmtp "github.com/wneessen/go-mail/smtp"
)

// Defaults for SMTPConfig.
const (
	DefaultSMTPTimeout = 30 * time.Second
	// idleTimeout is how long an unused connection stays open. Servers
	// drop idle clients after a few minutes anyway; closing first is
	// polite and avoids a failed NOOP on the next send.
	idleTimeout = 30 * time.Second
)

// SMTPConfig configures the SMTP sender.
type SMTPConfig struct {
	// URL is smtp://user:pass@host:port or smtps://user:pass@host:port.
	// smtp uses STARTTLS when the server offers it, and requires it on port
	// 587 (the default port). smtps uses implicit TLS (default port 465).
	// The query may hold insecure_skip_verify=1 (tests only).
	URL string
	// From is the sender address, e.g. "Roster <roster@example.com>".
	From string
	// Timeout bounds connecting and each SMTP command. Default 30s.
	Timeout time.Duration
	// Connections bounds the connections open at once; default
	// DefaultSMTPConnections.
	Connections int
}

// DefaultSMTPConnections is how many mails go out at once: enough that a
// burst (the daily digests of a large workspace) is not one long queue
// behind one connection's round trips, few enough for any mail server.
const DefaultSMTPConnections = 4

// SMTP sends mail through one SMTP server. It keeps up to Connections
// connections open across sends, dialling again when one is gone, and
// closes each after 30 seconds without use. It is safe for concurrent
// use; each connection carries one send at a time, and a send takes the
// connection used last, so mail sent one at a time reuses one connection.
type SMTP struct {
	client *gomail.Client // configuration only; connections are managed here
	from   string

	slots chan struct{} // one token per connection that may be in use
	mu    sync.Mutex
	free  []*smtpConn // connections not in use, the last used last
	all   []*smtpConn
	done  bool
}

// smtpConn is one connection and its idle timer.
type smtpConn struct {
	client *gomail.Client
	mu     sync.Mutex
	conn   *gosmtp.Client
	gen    uint64 // bumped on every use, so a stale idle timer does nothing
	idle   *time.Timer
	closed bool
}

// NewSMTP validates cfg and returns a sender. It does not connect.
func NewSMTP(cfg SMTPConfig) (*SMTP, error) {
	u, err := url.Parse(cfg.URL)
	if err != nil {
		return nil, errors.New("mail: SMTP URL does not parse") // the error would echo the password
	}
	if u.Hostname() == "" {
		return nil, errors.New("mail: SMTP URL has no host")
	}
	if u.Path != "" && u.Path != "/" {
		return nil, errors.New("mail: SMTP URL must not have a path")
	}
	host := u.Hostname()

	timeout := cfg.Timeout
	if timeout <= 0 {
		timeout = DefaultSMTPTimeout
	}
	tlsConfig := &tls.Config{ServerName: host, MinVersion: tls.VersionTLS12}
	for k, v := range u.Query() {
		switch k {
		case "insecure_skip_verify":
			tlsConfig.InsecureSkipVerify = len(v) > 0 && (v[0] == "1" || v[0] == "true")
		default:
			return nil, fmt.Errorf("mail: unknown SMTP URL parameter %q", k)
		}
	}

	opts := []gomail.Option{
		gomail.WithTimeout(timeout),
		gomail.WithTLSConfig(tlsConfig),
	}
	var port int
	switch u.Scheme {
	case "smtp":
		port = 587
	case "smtps":
		port = 465
		opts = append(opts, gomail.WithSSL())
	default:
		return nil, fmt.Errorf("mail: SMTP URL scheme must be smtp or smtps, not %q", u.Scheme)
	}
	if p := u.Port(); p != "" {
		port, err = strconv.Atoi(p)
		if err != nil || port < 1 || port > 65535 {
			return nil, fmt.Errorf("mail: bad SMTP port %q", p)
		}
	}
	opts = append(opts, gomail.WithPort(port))
	if u.Scheme == "smtp" {
		policy := gomail.TLSOpportunistic
		if port == 587 {
			// The submission port promises STARTTLS; refusing to go on
			// without it stops a downgrade attack from reading passwords.
			policy = gomail.TLSMandatory
		}
		opts = append(opts, gomail.WithTLSPolicy(policy))
	}
	if u.User != nil && u.User.Username() != "" {
		pass, _ := u.User.Password()
		opts = append(opts,
			gomail.WithUsername(u.User.Username()),
			gomail.WithPassword(pass),
			// PLAIN and LOGIN refuse to run without TLS except against
			// localhost, so credentials never cross the network in clear.
			gomail.WithOpportunisticSMTPAuth(
				gomail.SMTPAuthSCRAMSHA256, gomail.SMTPAuthSCRAMSHA1,
				gomail.SMTPAuthPlain, gomail.SMTPAuthLogin, gomail.SMTPAuthCramMD5,
			),
		)
	}

	if cfg.From == "" {
		return nil, errors.New("mail: From address is empty")
	}
	if err := gomail.NewMsg().From(cfg.From); err != nil {
		return nil, fmt.Errorf("mail: bad From address %q: %w", cfg.From, err)
	}

	client, err := gomail.NewClient(host, opts...)
	if err != nil {
		return nil, fmt.Errorf("mail: SMTP client: %w", err)
	}
	n := cfg.Connections
	if n <= 0 {
		n = DefaultSMTPConnections
	}
	out := &SMTP{client: client, from: cfg.From, slots: make(chan struct{}, n)}
	for range n {
		c := &smtpConn{client: client}
		out.free = append(out.free, c)
		out.all = append(out.all, c)
	}
	return out, nil
}

// Send delivers m. Errors for which IsPermanent is true will fail again on
// retry; others may succeed later.
func (s *SMTP) Send(ctx context.Context, m Message) error {
	msg, err := s.buildMsg(m)
	if err != nil {
		return err
	}
	if err := ctx.Err(); err != nil {
		return err
	}

	select {
	case s.slots <- struct{}{}:
	case <-ctx.Done():
		return ctx.Err()
	}
	s.mu.Lock()
	if s.done {
		s.mu.Unlock()
		<-s.slots
		return errors.New("mail: SMTP sender is closed")
	}
	c := s.free[len(s.free)-1]
	s.free = s.free[:len(s.free)-1]
	s.mu.Unlock()
	defer func() {
		s.mu.Lock()
		s.free = append(s.free, c)
		s.mu.Unlock()
		<-s.slots
	}()
	return c.send(ctx, m.To, msg)
}

// send sends msg on c.
func (c *smtpConn) send(ctx context.Context, to string, msg *gomail.Msg) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closed {
		return errors.New("mail: SMTP sender is closed")
	}
	c.gen++
	if c.idle != nil {
		c.idle.Stop()
	}
	defer c.armIdle()

	reused := c.conn != nil
	if err := c.dial(ctx); err != nil {
		return err
	}
	err := c.client.SendWithSMTPClient(c.conn, msg)
	var se *gomail.SendError
	if reused && errors.As(err, &se) && se.Reason == gomail.ErrConnCheck {
		// The kept connection went away while idle (server timeout,
		// restart). Nothing was sent on it, so a fresh one is safe.
		c.drop()
		if err := c.dial(ctx); err != nil {
			return err
		}
		err = c.client.SendWithSMTPClient(c.conn, msg)
	}
	if err != nil {
		if !errors.As(err, &se) || se.ErrorCode() == 0 {
			// Not a clean SMTP reply: the connection is in an unknown
			// state, so do not reuse it.
			c.drop()
		}
		return fmt.Errorf("mail: send to %s: %w", to, err)
	}
	return nil
}

// dial connects when there is no open connection. c.mu must be held.
func (c *smtpConn) dial(ctx context.Context) error {
	if c.conn != nil {
		return nil
	}
	conn, err := c.client.DialToSMTPClientWithContext(ctx)
	if err != nil {
		return fmt.Errorf("mail: connect to SMTP server %s: %w", c.client.ServerAddr(), err)
	}
	c.conn = conn
	return nil
}

// drop closes the connection, politely if it still answers. c.mu must be
// held.
func (c *smtpConn) drop() {
	if c.conn == nil {
		return
	}
	if err := c.client.CloseWithSMTPClient(c.conn); err != nil {
		_ = c.conn.Close()
	}
	c.conn = nil
}

// armIdle schedules closing the connection after idleTimeout without use.
// c.mu must be held.
func (c *smtpConn) armIdle() {
	if c.conn == nil || c.closed {
		return
	}
	gen := c.gen
	c.idle = time.AfterFunc(idleTimeout, func() {
		c.mu.Lock()
		defer c.mu.Unlock()
		if c.gen == gen {
			c.drop()
		}
	})
}

// Close closes the open connections. Later sends fail.
func (s *SMTP) Close() error {
	s.mu.Lock()
	s.done = true
	s.mu.Unlock()
	for _, c := range s.all {
		c.mu.Lock()
		c.closed = true
		c.gen++
		if c.idle != nil {
			c.idle.Stop()
		}
		c.drop()
		c.mu.Unlock()
	}
	return nil
}

// buildMsg turns m into a MIME message: multipart/alternative with the
// text part first and the HTML part preferred, as RFC 2046 orders them.
func (s *SMTP) buildMsg(m Message) (*gomail.Msg, error) {
	msg := gomail.NewMsg(gomail.WithNoDefaultUserAgent())
	if err := msg.From(s.from); err != nil {
		return nil, permanent(fmt.Errorf("mail: From address: %w", err))
	}
	if err := msg.To(m.To); err != nil {
		return nil, permanent(fmt.Errorf("mail: recipient address %q: %w", m.To, err))
	}
	msg.Subject(m.Subject)
	msg.SetDate()
	if m.MessageID != "" {
		msg.SetMessageIDWithValue(m.MessageID)
	} else {
		msg.SetMessageID()
	}
	// Tell auto-responders (vacation replies) not to answer.
	msg.SetGenHeader("Auto-Submitted", "auto-generated")
	if m.Lang != "" {
		msg.SetGenHeader(gomail.HeaderContentLang, m.Lang)
	}
	for k, v := range m.Headers {
		msg.SetGenHeader(gomail.Header(k), v)
	}
	msg.SetBodyString(gomail.TypeTextPlain, m.Text)
	if m.HTML != "" {
		msg.AddAlternativeString(gomail.TypeTextHTML, m.HTML)
	}
	return msg, nil
}
