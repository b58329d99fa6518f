package auth

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"time"

	"roster/internal/core"
	"roster/internal/events"
	"roster/internal/httpx"
	"roster/internal/store"
)

// Config tunes sign-in. Zero values take the defaults.
type Config struct {
	IdleTimeout     time.Duration // a session unused this long ends (default 90 days)
	TwoFactorIdle   time.Duration // the same for users with two-step verification on (default 30 days)
	AbsoluteTimeout time.Duration // a session ends this long after sign-in whatever its use (default 365 days)
	ThrottleWindow  time.Duration // failures are counted in windows this long (default 15 minutes)
	AccountFailures int           // failures per account and window before 429 (default 10)
	IPFailures      int           // failures per client IP and window before 429 (default 50)
	// ReauthFailures bounds the password and code checks of a signed-in
	// user in Settings forms per user and ThrottleWindow (default 10). It is
	// a throttle of its own: a mistyped current password never locks sign-in.
	ReauthFailures   int
	HashConcurrency  int           // password hashes at once (default 4)
	TouchGranularity time.Duration // last-seen is written at most this often (default 1 minute)
	UseWriteDelay    time.Duration // a record of use waits at most this long to be written with others (default 1 second)
}

func (c *Config) defaults() {
	if c.IdleTimeout <= 0 {
		c.IdleTimeout = 90 * 24 * time.Hour
	}
	if c.TwoFactorIdle <= 0 {
		c.TwoFactorIdle = 30 * 24 * time.Hour
	}
	if c.AbsoluteTimeout <= 0 {
		c.AbsoluteTimeout = 365 * 24 * time.Hour
	}
	if c.ThrottleWindow <= 0 {
		c.ThrottleWindow = 15 * time.Minute
	}
	if c.AccountFailures <= 0 {
		c.AccountFailures = 10
	}
	if c.IPFailures <= 0 {
		c.IPFailures = 50
	}
	if c.ReauthFailures <= 0 {
		c.ReauthFailures = 10
	}
	if c.HashConcurrency <= 0 {
		c.HashConcurrency = 4
	}
	if c.TouchGranularity <= 0 {
		c.TouchGranularity = time.Minute
	}
	if c.UseWriteDelay <= 0 {
		c.UseWriteDelay = time.Second
	}
}

// Service signs people in and recognises them afterwards.
type Service struct {
	db     *store.DB
	events *events.Recorder
	Hasher *Hasher
	cfg    Config
	// principals keeps who a token signs in as, by the token's hash:
	// dropped when the person, the session or the token changes, on every
	// instance (store.Cache), so a revoked session is refused at once.
	principals *store.Cache[string, Principal]
	// uses gathers the records of use that fall due, written within a
	// second in one transaction.
	uses *useLog
	// onLookup and onRead, when set (tests), are called as a shared
	// lookup starts and after its read.
	onLookup, onRead func()
}

// Principal cache bounds: about 300 bytes a person, so at most some tens
// of megabytes; an entry is read again at least every half minute.
const (
	principalCacheSize = 100_000
	principalCacheAge  = 30 * time.Second
)

// NewService returns a sign-in service on db that records what happens
// with rec.
func NewService(db *store.DB, cfg Config, rec *events.Recorder) *Service {
	cfg.defaults()
	return &Service{db: db, events: rec, Hasher: NewHasher(cfg.HashConcurrency), cfg: cfg,
		principals: store.NewCache[string, Principal](db, principalCacheSize, principalCacheAge, store.UserKind, store.SessionKind, store.TokenKind),
		uses:       newUseLog(db, cfg.UseWriteDelay)}
}

// Config returns the effective configuration.
func (s *Service) Config() Config { return s.cfg }

// Principal is who a request acts as: a user through a session or through
// an API token.
type Principal struct {
	User    *core.User
	Session *core.Session  // nil for API tokens
	Token   *core.APIToken // nil for sessions
}

// LoginInput is a sign-in attempt.
type LoginInput struct {
	Email    string
	Password string
	IP       string
	Device   string
	Kind     core.SessionKind
}

// LoginResult is a successful sign-in. Token is shown to the client once.
// SetupRequired says the workspace requires two-step verification and the
// user has it off: the session is open, but only the setup is (the
// security policy gates every other page and API call).
type LoginResult struct {
	User          *core.User
	Session       *core.Session
	Token         string
	SetupRequired bool
}

var errLoginFailed = core.Errorf(core.EUNAUTHORIZED, "errors.login_failed")

// CheckCredentials is the password step of sign-in; security.Service.SignIn
// runs the whole flow around it. Wrong email, wrong password and inactive
// account all give the same error after the same amount of hashing, so the
// answer reveals nothing about which accounts exist. Repeated failures per
// account or per IP give ETOOMANY. On success the attempt is still
// reserved: the caller releases it in the transaction that signs in.
func (s *Service) CheckCredentials(ctx context.Context, in LoginInput) (*core.User, *Attempt, error) {
	email, _ := core.NormalizeEmail(in.Email)
	att, err := s.Reserve(ctx, email, in.IP)
	if err != nil {
		return nil, nil, err
	}
	// From here a return without att.Release counts as a failure.
	user, err := s.db.Reader().UserByEmail(ctx, email)
	if err != nil && core.ErrorCode(err) != core.ENOTFOUND {
		return nil, nil, err
	}
	hash := ""
	if user != nil {
		hash = user.PasswordHash
	}
	ok, err := s.Hasher.Verify(ctx, hash, in.Password)
	if err != nil && !errors.Is(err, errBadHash) {
		return nil, nil, err
	}
	if !ok || user == nil || user.State != core.StateActive {
		if user != nil {
			// Recorded against the account, never with what was typed.
			if err := s.RecordFailure(ctx, user, in.IP, ""); err != nil {
				return nil, nil, err
			}
		}
		return nil, nil, errLoginFailed
	}
	return user, att, nil
}

// RecordFailure records a refused sign-in of user from ip; detail says why
// when it was not a wrong password ("ip_not_allowed").
func (s *Service) RecordFailure(ctx context.Context, user *core.User, ip, detail string) error {
	// A short write that must not be skipped because the client left.
	return s.events.Record(context.WithoutCancel(ctx), s.db.Writer(), core.Event{Action: core.AuditSignInFailed,
		WorkspaceID: user.WorkspaceID, TargetID: user.ID, Detail: detail, IP: ip})
}

// Attempt is one guess (a password or a second-step code) counted against
// the account's and the client IP's sign-in throttles before it is checked.
// A wrong guess keeps it: the count is the failure. A right one gives it
// back with Release, so successful sign-ins do not use up a shared IP.
type Attempt struct {
	s     *Service
	slots []attemptSlot
}

type attemptSlot struct {
	key   string
	start time.Time
}

// Reserve takes an attempt for the account email and the IP ip, or refuses
// with ETOOMANY when either has used up its limit in the current window.
// Every guess is reserved before the expensive check, in one atomic
// statement per counter, so parallel guesses (also through other
// instances) can never check more than the limit allows.
func (s *Service) Reserve(ctx context.Context, email, ip string) (*Attempt, error) {
	return s.reserve(ctx, []throttleKey{{"acct:" + email, s.cfg.AccountFailures}, {"ip:" + ip, s.cfg.IPFailures}})
}

// ReserveReauth takes an attempt of a signed-in user's re-authentication
// (a password or code typed in a Settings form), counted per user in a
// throttle of its own ("reauth:<id>", ReauthFailures per window): it never
// touches the sign-in throttles, so mistakes there never lock sign-in, and
// a stolen session still cannot guess the password faster than sign-in.
func (s *Service) ReserveReauth(ctx context.Context, user *core.User) (*Attempt, error) {
	return s.reserve(ctx, []throttleKey{{fmt.Sprintf("reauth:%d", user.ID), s.cfg.ReauthFailures}})
}

type throttleKey struct {
	key   string
	limit int
}

func (s *Service) reserve(ctx context.Context, keys []throttleKey) (*Attempt, error) {
	a := &Attempt{s: s}
	w := s.db.Writer()
	for _, c := range keys {
		n, start, err := w.TakeAttempt(ctx, c.key, s.cfg.ThrottleWindow)
		if err != nil {
			return nil, errors.Join(err, a.Release(ctx, nil))
		}
		a.slots = append(a.slots, attemptSlot{c.key, start})
		if n > c.limit {
			// Refused without a check, so nothing is counted.
			if err := a.Release(ctx, nil); err != nil {
				return nil, err
			}
			wait := max(start.Add(s.cfg.ThrottleWindow).Sub(s.db.Now()), time.Second)
			return nil, &core.Error{Code: core.ETOOMANY, Key: "errors.too_many_requests", RetryAfter: wait}
		}
	}
	return a, nil
}

// RecordReauthFailure audits a wrong password or code (what: "password",
// "code") typed by the signed-in user in a Settings form.
func (s *Service) RecordReauthFailure(ctx context.Context, user *core.User, ip, what string) error {
	// A short write that must not be skipped because the client left.
	return s.events.Record(context.WithoutCancel(ctx), s.db.Writer(), core.Event{Action: core.AuditReauthFailed,
		WorkspaceID: user.WorkspaceID, ActorID: user.ID, TargetID: user.ID, Detail: what, IP: ip})
}

// Release gives the attempt back after a right guess, in q's transaction
// (so it commits with the sign-in it belongs to) or, with q nil, on its own.
// It is safe to call more than once.
func (a *Attempt) Release(ctx context.Context, q *store.Q) error {
	if q == nil {
		// A short write that must not be skipped because the client left.
		ctx, q = context.WithoutCancel(ctx), a.s.db.Writer()
	}
	for _, sl := range a.slots {
		if err := q.ReleaseAttempt(ctx, sl.key, sl.start); err != nil {
			return err
		}
	}
	a.slots = nil
	return nil
}

// StartSession opens a new session for userID in q's transaction and returns
// its token. A new token every time: no session fixation.
func (s *Service) StartSession(ctx context.Context, q *store.Q, userID int64, kind core.SessionKind, ip, device string) (string, *core.Session, error) {
	if kind == "" {
		kind = core.SessionWeb
	}
	token := NewToken()
	now := s.db.Now()
	sess := &core.Session{UserID: userID, Kind: kind, TokenHash: HashToken(token), CreatedAt: now, LastSeenAt: now,
		ExpiresAt: now.Add(s.cfg.AbsoluteTimeout), IP: ip, Device: device}
	if err := q.CreateSession(ctx, sess); err != nil {
		return "", nil, err
	}
	return token, sess, nil
}

// Close writes the records of use that wait; later ones are written at
// once.
func (s *Service) Close(ctx context.Context) error { return s.uses.Close(ctx) }

// Authenticate resolves a session or API token to its principal, enforcing
// expiry and the user's state, and records the use.
func (s *Service) Authenticate(ctx context.Context, token, ip string) (*Principal, error) {
	if token == "" {
		return nil, core.ErrUnauthorized
	}
	key := string(HashToken(token))
	if p, gen, ok := s.principals.GetGen(key); ok {
		if got, ok, err := s.fromCache(key, p, gen, ip); ok || err != nil {
			return got, err
		}
	}
	return s.lookup(ctx, key, IsAPIToken(token), ip)
}

// lookup reads who the token hashed to key signs in as and caches it,
// once for all the requests that ask at the same time (store.Cache.Share:
// a busy client's first requests, or all of them when its entry ages out).
// A session's shared read records the first request's IP.
func (s *Service) lookup(ctx context.Context, key string, api bool, ip string) (*Principal, error) {
	p, err := s.principals.Share(ctx, key, func(ctx context.Context, gen uint64) (Principal, error) {
		if s.onLookup != nil {
			s.onLookup()
		}
		var p *Principal
		var err error
		if api {
			p, err = s.authenticateAPIToken(ctx, []byte(key))
		} else {
			p, err = s.authenticateSession(ctx, []byte(key), ip)
		}
		if err != nil {
			return Principal{}, err
		}
		if s.onRead != nil {
			s.onRead()
		}
		tags := []string{store.UserTag(p.User.ID)}
		if p.Session != nil {
			tags = append(tags, store.SessionTag(p.Session.ID))
		} else {
			tags = append(tags, store.TokenTag(p.Token.ID))
		}
		s.principals.Put(key, p.clone(), gen, tags...)
		return *p, nil
	})
	if err != nil {
		return nil, err
	}
	// Each request gets its own copy: handlers may change theirs.
	out := p.clone()
	return &out, nil
}

// lastUse is when the principal's session or token was last recorded in use.
func (p Principal) lastUse() time.Time {
	if p.Token != nil {
		return p.Token.LastUsedAt
	}
	return p.Session.LastSeenAt
}

// fromCache is Authenticate on a cached principal. ok is false when the
// cache cannot decide (the session looks expired or idle: the database,
// which other instances touch, decides).
func (s *Service) fromCache(key string, p Principal, gen uint64, ip string) (*Principal, bool, error) {
	now := s.db.Now()
	if p.User.State != core.StateActive {
		return nil, true, core.ErrUnauthorized
	}
	if p.Token != nil {
		if !p.Token.RevokedAt.IsZero() || !now.Before(p.Token.ExpiresAt) {
			return nil, true, core.ErrUnauthorized
		}
	} else if !now.Before(p.Session.ExpiresAt) || now.Sub(p.Session.LastSeenAt) >= s.idleFor(p.User) {
		return nil, false, nil
	}
	out := p.clone()
	if now.Sub(p.lastUse()) >= s.cfg.TouchGranularity {
		// Recorded for the write to come, and kept in the cache so that
		// the next requests of the minute find it recorded.
		s.recordUse(&out, now, ip)
		s.principals.Update(key, out.clone(), gen)
	}
	return &out, true, nil
}

// recordUse records that p was used at now from ip: written within
// Config.UseWriteDelay with the other uses (useLog).
func (s *Service) recordUse(p *Principal, now time.Time, ip string) {
	if p.Token != nil {
		s.uses.token(p.Token.ID, now)
		p.Token.LastUsedAt = now
		return
	}
	s.uses.session(p.Session.ID, now, ip)
	p.Session.LastSeenAt = now
	if ip != "" {
		p.Session.IP = ip
	}
}

// clone copies p deeply enough that callers may change what they got. The
// copy carries no token hash: nothing after sign-in reads it, and every
// request would copy it.
func (p Principal) clone() Principal {
	u := *p.User
	u.Rights = slices.Clone(u.Rights)
	out := Principal{User: &u}
	if p.Session != nil {
		sess := *p.Session
		sess.TokenHash = nil
		out.Session = &sess
	}
	if p.Token != nil {
		t := *p.Token
		t.TokenHash = nil
		out.Token = &t
	}
	return out
}

func (s *Service) authenticateSession(ctx context.Context, hash []byte, ip string) (*Principal, error) {
	for read := 1; ; read++ {
		sess, user, err := s.db.Reader().SessionWithUser(ctx, hash)
		if err != nil {
			if core.ErrorCode(err) == core.ENOTFOUND {
				return nil, core.ErrUnauthorized
			}
			return nil, err
		}
		// A use that waits to be written counts: the session is not idle.
		if at, pendingIP := s.uses.seen(sess.ID); at.After(sess.LastSeenAt) {
			sess.LastSeenAt = at
			if pendingIP != "" {
				sess.IP = pendingIP
			}
		}
		now := s.db.Now()
		if !now.Before(sess.ExpiresAt) || now.Sub(sess.LastSeenAt) >= s.idleFor(user) {
			// Deleted only if still ended as it stands: a use written
			// since the read (this instance's batch, which then no longer
			// waits, or another's) keeps it, and it is read again.
			deleted, err := s.db.Writer().DeleteEndedSession(ctx, sess.ID, now, now.Add(-s.idleFor(user)))
			if err != nil {
				return nil, err
			}
			if !deleted && read == 1 {
				continue
			}
			return nil, core.ErrUnauthorized
		}
		if user.State != core.StateActive {
			return nil, core.ErrUnauthorized
		}
		// Uses are recorded once a minute per session: reads stay reads.
		p := &Principal{User: user, Session: sess}
		if now.Sub(sess.LastSeenAt) >= s.cfg.TouchGranularity {
			s.recordUse(p, now, ip)
		}
		return p, nil
	}
}

func (s *Service) authenticateAPIToken(ctx context.Context, hash []byte) (*Principal, error) {
	t, user, err := s.db.Reader().APITokenWithUser(ctx, hash)
	if err != nil {
		if core.ErrorCode(err) == core.ENOTFOUND {
			return nil, core.ErrUnauthorized
		}
		return nil, err
	}
	now := s.db.Now()
	if !t.RevokedAt.IsZero() || !now.Before(t.ExpiresAt) {
		return nil, core.ErrUnauthorized
	}
	if user.State != core.StateActive {
		return nil, core.ErrUnauthorized
	}
	p := &Principal{User: user, Token: t}
	if now.Sub(t.LastUsedAt) >= s.cfg.TouchGranularity {
		s.recordUse(p, now, "")
	}
	return p, nil
}

// Logout ends a session.
func (s *Service) Logout(ctx context.Context, p *Principal) error {
	if p == nil || p.Session == nil {
		return nil
	}
	return s.db.Writer().DeleteSession(ctx, p.Session.ID)
}

// API tokens may live from one day to five years.
const (
	MinTokenTTL = 24 * time.Hour
	MaxTokenTTL = 5 * 365 * 24 * time.Hour
)

// CreateAPIToken creates an API token for actor, who must be an admin. The
// returned secret is shown once; only its hash is kept.
func (s *Service) CreateAPIToken(ctx context.Context, actor *core.User, name string, ttl time.Duration) (string, *core.APIToken, error) {
	if !actor.IsAdmin() {
		return "", nil, core.ErrForbidden
	}
	var v core.Invalid
	name, key := core.CheckName(name)
	if key != "" {
		v.Add("name", key, nil)
	}
	if ttl < MinTokenTTL || ttl > MaxTokenTTL+24*time.Hour {
		v.Add("expires", "errors.field.expiry_invalid", nil)
	}
	if err := v.Err(); err != nil {
		return "", nil, err
	}
	secret := APITokenPrefix + NewToken()
	now := s.db.Now()
	t := &core.APIToken{UserID: actor.ID, Name: name, TokenHash: HashToken(secret), CreatedAt: now, ExpiresAt: now.Add(ttl)}
	err := s.db.InTx(ctx, func(q *store.Q) error {
		if err := q.CreateAPIToken(ctx, t); err != nil {
			return err
		}
		return s.events.Record(ctx, q, core.Event{Action: core.AuditTokenCreated, WorkspaceID: actor.WorkspaceID,
			ActorID: actor.ID, TargetID: actor.ID, Detail: t.Name, IP: httpx.ClientIPFrom(ctx)})
	})
	if err != nil {
		return "", nil, err
	}
	slog.InfoContext(ctx, "api token created", "token_id", t.ID, "user_id", actor.ID)
	return secret, t, nil
}

// APITokens lists the workspace's API tokens; admins only.
func (s *Service) APITokens(ctx context.Context, actor *core.User) ([]*core.APIToken, error) {
	if !actor.IsAdmin() {
		return nil, core.ErrForbidden
	}
	waiting := s.uses.tokensWaiting()
	list, err := s.db.Reader().WorkspaceAPITokens(ctx, actor.WorkspaceID)
	if err != nil {
		return nil, err
	}
	// With the uses that wait to be written (taken before the read).
	for _, t := range list {
		if u, ok := laterUse(waiting, t.ID, t.LastUsedAt); ok {
			t.LastUsedAt = u.At
		}
	}
	return list, nil
}

// RevokeAPIToken revokes one of the workspace's tokens; admins only.
func (s *Service) RevokeAPIToken(ctx context.Context, actor *core.User, id int64) error {
	if !actor.IsAdmin() {
		return core.ErrForbidden
	}
	return s.db.InTx(ctx, func(q *store.Q) error {
		t, err := q.RevokeAPIToken(ctx, actor.WorkspaceID, id)
		if err != nil {
			return err
		}
		// The entry is about the admin the token acted as.
		return s.events.Record(ctx, q, core.Event{Action: core.AuditTokenRevoked, WorkspaceID: actor.WorkspaceID,
			ActorID: actor.ID, TargetID: t.UserID, Detail: t.Name, IP: httpx.ClientIPFrom(ctx)})
	})
}

// Sessions lists the user's own signed-in devices, most recent first.
func (s *Service) Sessions(ctx context.Context, user *core.User) ([]*core.Session, error) {
	waiting := s.uses.sessionsWaiting()
	all, err := s.db.Reader().UserSessions(ctx, user.ID)
	if err != nil {
		return nil, err
	}
	// With the uses that wait to be written (taken before the read), most
	// recent first again.
	for _, sess := range all {
		if u, ok := laterUse(waiting, sess.ID, sess.LastSeenAt); ok {
			sess.LastSeenAt = u.At
			if u.IP != "" {
				sess.IP = u.IP
			}
		}
	}
	slices.SortStableFunc(all, func(a, b *core.Session) int { return b.LastSeenAt.Compare(a.LastSeenAt) })
	// Expired sessions are deleted when next presented; until then they
	// are no longer signed in, so they are not listed.
	now, idle := s.db.Now(), s.idleFor(user)
	live := all[:0]
	for _, sess := range all {
		if now.Before(sess.ExpiresAt) && now.Sub(sess.LastSeenAt) < idle {
			live = append(live, sess)
		}
	}
	return live, nil
}

// idleFor is the idle expiry that applies to user's sessions.
func (s *Service) idleFor(user *core.User) time.Duration {
	if user.TwoFactorEnabled {
		return min(s.cfg.IdleTimeout, s.cfg.TwoFactorIdle)
	}
	return s.cfg.IdleTimeout
}

// VerifyPassword checks a signed-in user's password before a sensitive
// change. Every check is reserved against the user's re-authentication
// throttle (ReserveReauth), not the sign-in one, and a wrong password is
// audited as a failed check.
func (s *Service) VerifyPassword(ctx context.Context, user *core.User, pw, ip, field string) error {
	if pw == "" {
		// Nothing was guessed: no check, nothing counted.
		return &core.Error{Code: core.EINVALID, Key: "errors.invalid", Fields: []core.FieldError{{Field: field, Key: "errors.field.required"}}}
	}
	att, err := s.ReserveReauth(ctx, user)
	if err != nil {
		return err
	}
	ok, err := s.Hasher.Verify(ctx, user.PasswordHash, pw)
	if err != nil && !errors.Is(err, errBadHash) {
		return err
	}
	if ok {
		return att.Release(ctx, nil)
	}
	if err := s.RecordReauthFailure(ctx, user, ip, "password"); err != nil {
		return err
	}
	return &core.Error{Code: core.EINVALID, Key: "errors.invalid", Fields: []core.FieldError{{Field: field, Key: "errors.field.password_wrong"}}}
}

// CompleteSignIn opens the session of a sign-in whose last step passed
// (password, second step, accepted invitation or setup), in q's
// transaction. Every session is opened here: the workspace's policy is read
// once, a sign-in from outside its IP allowlist is refused with
// core.ErrIPNotAllowed before anything exists, the sign-in is recorded
// (how names what completed it: "password", "totp", "email",
// "backup_code", "invite", "setup"), and a device (label + IP) not seen for
// NewDeviceAfter is owed a security notice.
func (s *Service) CompleteSignIn(ctx context.Context, q *store.Q, user *core.User, kind core.SessionKind, ip, device, how string) (*LoginResult, error) {
	ws, err := q.Workspace(ctx, user.WorkspaceID)
	if err != nil {
		return nil, err
	}
	if !ws.AllowsIP(ip) {
		return nil, core.ErrIPNotAllowed
	}
	if err := q.ClearFailures(ctx, "acct:"+user.Email); err != nil {
		return nil, err
	}
	if err := q.TouchSignIn(ctx, user.ID); err != nil {
		return nil, err
	}
	token, sess, err := s.StartSession(ctx, q, user.ID, kind, ip, device)
	if err != nil {
		return nil, err
	}
	e := core.Event{Action: core.AuditSignIn, WorkspaceID: user.WorkspaceID, ActorID: user.ID, TargetID: user.ID,
		Detail: how, IP: ip, Device: device}
	if e.Notice, err = s.newDevice(ctx, q, user, device, ip); err != nil {
		return nil, err
	}
	if e.Notice != "" {
		e.Recipient = user
	}
	if err := s.events.Record(ctx, q, e); err != nil {
		return nil, err
	}
	slog.InfoContext(ctx, "signed in", "user_id", user.ID, "kind", kind, "how", how)
	return &LoginResult{User: user, Session: sess, Token: token,
		SetupRequired: ws.RequireTwoFactor && !user.TwoFactorEnabled}, nil
}

// NewDeviceAfter is how long a device may go unseen before a sign-in from
// it counts as new again.
const NewDeviceAfter = 90 * 24 * time.Hour

// newDevice records the device and returns the new-device notice when it
// is new. The very first device of an account gets no notice: there is
// nothing to compare with.
func (s *Service) newDevice(ctx context.Context, q *store.Q, user *core.User, device, ip string) (core.Notice, error) {
	last, known, err := q.SeenDevice(ctx, user.ID, device, ip)
	if err != nil {
		return "", err
	}
	if !known || (!last.IsZero() && s.db.Now().Sub(last) < NewDeviceAfter) {
		return "", nil
	}
	return core.NoticeNewDevice, nil
}

// RevokeSession signs the user out of one of their own sessions. A session
// of someone else is ENOTFOUND, never revealed.
func (s *Service) RevokeSession(ctx context.Context, user *core.User, sessionID int64) error {
	return s.db.InTx(ctx, func(q *store.Q) error {
		list, err := q.UserSessions(ctx, user.ID)
		if err != nil {
			return err
		}
		for _, sess := range list {
			if sess.ID == sessionID {
				if err := q.DeleteSession(ctx, sessionID); err != nil {
					return err
				}
				return s.events.Record(ctx, q, core.Event{Action: core.AuditSessionRevoked, WorkspaceID: user.WorkspaceID,
					ActorID: user.ID, TargetID: user.ID, Detail: sess.Device, IP: sess.IP})
			}
		}
		return core.ErrNotFound
	})
}

// RevokeOtherSessions signs the user out everywhere except the session
// keepID (the one making the request).
func (s *Service) RevokeOtherSessions(ctx context.Context, user *core.User, keepID int64) error {
	return s.db.InTx(ctx, func(q *store.Q) error {
		if err := q.DeleteOtherSessions(ctx, user.ID, keepID); err != nil {
			return err
		}
		return s.events.Record(ctx, q, core.Event{Action: core.AuditSessionRevoked, WorkspaceID: user.WorkspaceID,
			ActorID: user.ID, TargetID: user.ID, Detail: "all others", IP: httpx.ClientIPFrom(ctx)})
	})
}
