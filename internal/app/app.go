// Package app assembles Roster from its parts: database, job queue, mailer,
// services, pages and API, behind one HTTP server. cmd/roster only parses
// flags into a Config and calls it; tests start the same App.
package app

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/http/pprof"
	stdmail "net/mail"
	"net/netip"
	"net/url"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"github.com/riverqueue/river"

	"roster/internal/api"
	"roster/internal/auth"
	"roster/internal/httpx"
	"roster/internal/i18n"
	"roster/internal/jobs"
	"roster/internal/live"
	"roster/internal/mail"
	"roster/internal/notify"
	"roster/internal/notify/email"
	"roster/internal/notify/mobile"
	"roster/internal/notify/telegram"
	"roster/internal/notify/webpush"
	"roster/internal/photo"
	"roster/internal/profile"
	"roster/internal/secrets"
	"roster/internal/services"
	"roster/internal/store"
	"roster/internal/web"
)

// Version is set at build time with -ldflags "-X roster/internal/app.Version=...".
var Version = "dev"

// Config is everything Roster can be told at start.
type Config struct {
	Addr            string         // listen address, e.g. ":8080"
	MetricsAddr     string         // listen address of /metrics, e.g. "127.0.0.1:9090"; empty: no metrics endpoint
	Pprof           bool           // also serve /debug/pprof/ on MetricsAddr
	DataDir         string         // SQLite database, secret key and files
	DatabaseURL     string         // empty: SQLite in DataDir; postgres://...: PostgreSQL
	SQLiteSync      string         // SQLite's synchronous setting: normal (default) or full; see store.SyncNormal
	BaseURL         string         // public URL for links; https turns on Secure cookies
	SecretKey       string         // base64 32-byte key; empty: DataDir/secret.key
	FilesURL        string         // blob storage for photos: empty = DataDir/files; file:///..., s3://bucket?...
	SMTPURL         string         // smtp[s]://user:pass@host:port; empty: dev outbox
	MailFrom        string         // From address for outgoing mail
	TrustedProxies  []string       // CIDRs whose X-Forwarded-For is believed
	SessionIdle     time.Duration  // idle session expiry
	SessionMax      time.Duration  // absolute session expiry
	TwoFactorIdle   time.Duration  // idle expiry of sessions of users with two-step verification on
	RecentSignIn    time.Duration  // password change without the current one this soon after sign-in (2FA off)
	APIRate         float64        // API requests per second per token/session
	APIBurst        int            // API burst
	ShutdownTimeout time.Duration  // how long in-flight requests and jobs may finish
	JobPollInterval time.Duration  // job queue poll interval (tests shorten it); default 50ms on SQLite
	JobRescueAfter  time.Duration  // a job left running this long by a dead instance runs again; default 5m
	AuthConfig      auth.Config    // sign-in tuning; the session fields above override it
	Timeouts        httpx.Timeouts // per-route-class read and write deadlines; zero fields: httpx.DefaultTimeouts
	// NotificationRetention is how long notifications are kept; zero:
	// notify.DefaultRetention (90 days).
	NotificationRetention time.Duration
	// NotifyRetryBase and NotifyRetryCap bound the wait between attempts
	// of a delivery (notify.Config.RetryBase, RetryCap); zero: 2 s and
	// 30 min. Tests shorten them.
	NotifyRetryBase, NotifyRetryCap time.Duration
	// Mobile configures push to the mobile app (FCM, APNs); empty: the
	// mobile channel is not configured.
	Mobile mobile.Settings
	// TelegramBotToken turns the Telegram channel on (a secret: never
	// logged); TelegramAPIURL is the Bot API base (default the official
	// one); TelegramWebhook receives updates by webhook instead of long
	// polling (needs a public https BaseURL).
	TelegramBotToken string
	TelegramAPIURL   string
	TelegramWebhook  bool
	// BrowserPush turns Web Push on; PushSubject is the VAPID contact
	// (default from MailFrom or an https BaseURL); PushAllowedNetworks
	// are private networks push endpoints may resolve into (tests, a
	// push service of one's own).
	BrowserPush         bool
	PushSubject         string
	PushAllowedNetworks []netip.Prefix
	// PushHTTPClient replaces the Web Push client (tests only).
	PushHTTPClient *http.Client
}

// RouteClasses lists the routes whose deadlines are not those of forms and
// JSON: photo uploads get longer ones. A route streaming events adds itself
// here as httpx.ClassStream to get none.
var RouteClasses = map[string]httpx.RouteClass{
	"POST /settings/profile/photo":                   httpx.ClassUpload,
	"POST /settings/users/{id}/photo":                httpx.ClassUpload,
	"PUT " + api.Prefix + "/me/photo":                httpx.ClassUpload,
	"PUT " + api.Prefix + "/users/{id}/photo":        httpx.ClassUpload,
	"GET " + api.Prefix + "/me/notifications/stream": httpx.ClassStream,
}

// App is a running Roster.
type App struct {
	Config Config
	DB     *store.DB
	Queue  *jobs.Queue
	// Services are the domain services, built by services.New as for
	// the command line and tests; their fields are promoted (a.Auth, ...).
	*services.Set
	Photos   *photo.Store
	Live     *live.Hub // open notification streams
	I18n     *i18n.Bundle
	Secrets  *secrets.Box
	Registry *prometheus.Registry
	Handler  http.Handler
	// Routes are the patterns of every page and API route served.
	Routes []string
	Logger *slog.Logger

	smtp      *mail.SMTP
	metricsLn net.Listener // nil without Config.MetricsAddr
	// Telegram is the Telegram channel, nil when not configured.
	Telegram *telegram.Channel
	// WebPush is the browser push channel, nil when turned off.
	WebPush *webpush.Channel
}

// Open connects to the database, applies migrations and wires every part.
// It does not start serving; call Run.
func Open(ctx context.Context, cfg Config, logger *slog.Logger) (_ *App, err error) {
	if logger == nil {
		logger = slog.Default()
	}
	if cfg.BaseURL == "" {
		cfg.BaseURL = "http://localhost" + portOf(cfg.Addr)
	}
	base, err := url.Parse(cfg.BaseURL)
	if err != nil || (base.Scheme != "http" && base.Scheme != "https") || base.Host == "" {
		return nil, fmt.Errorf("base URL %q must be an absolute http(s) URL", cfg.BaseURL)
	}
	if cfg.ShutdownTimeout <= 0 {
		cfg.ShutdownTimeout = 20 * time.Second
	}
	a := &App{Config: cfg, Logger: logger, Registry: prometheus.NewRegistry()}
	defer func() {
		if err != nil {
			a.Close()
		}
	}()
	a.Registry.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))

	if a.Secrets, err = secrets.Load(cfg.SecretKey, cfg.DataDir); err != nil {
		return nil, err
	}
	if a.I18n, err = i18n.New(); err != nil {
		return nil, fmt.Errorf("load translations: %w", err)
	}
	if a.DB, err = store.Open(ctx, cfg.DatabaseURL, cfg.DataDir, store.SQLiteSynchronous(cfg.SQLiteSync)); err != nil {
		return nil, err
	}
	if err := Migrate(ctx, a.DB); err != nil {
		return nil, err
	}

	var sender mail.Sender
	if cfg.SMTPURL != "" {
		if a.smtp, err = mail.NewSMTP(mail.SMTPConfig{URL: cfg.SMTPURL, From: cfg.MailFrom}); err != nil {
			return nil, err
		}
		sender = a.smtp
	} else {
		logger.Warn("no SMTP server configured: outgoing mail is logged and kept in the dev outbox (Settings → Dev outbox)")
		sender = &mail.DevOutbox{Store: outboxStore{a.DB}, Logger: logger}
	}
	workers := river.NewWorkers()
	river.AddWorker(workers, &mail.SendWorker{Sender: sender, Box: a.Secrets})
	a.Queue, err = jobs.New(jobs.Config{Engine: jobs.Engine(a.DB.Engine), DB: a.DB.W, PgxPool: a.DB.Pgx, Logger: logger,
		Workers: workers, Registerer: a.Registry, FetchPollInterval: pollInterval(cfg.JobPollInterval, a.DB.Engine),
		RescueAfter: cfg.JobRescueAfter})
	if err != nil {
		return nil, err
	}

	mailQueue := &mail.Queue{Jobs: a.Queue, Box: a.Secrets, SettingsURL: strings.TrimSuffix(base.String(), "/") + "/settings/notifications",
		Translations: func(lang string) mail.Translator { return a.I18n.Localizer(lang) }}
	authCfg := cfg.AuthConfig
	authCfg.IdleTimeout, authCfg.AbsoluteTimeout, authCfg.TwoFactorIdle = cfg.SessionIdle, cfg.SessionMax, cfg.TwoFactorIdle
	if a.Photos, err = photo.OpenStore(ctx, cfg.FilesURL, cfg.DataDir); err != nil {
		return nil, fmt.Errorf("open file storage: %w", err)
	}
	if a.DB.Pgx != nil {
		a.Live = live.NewPostgresHub(a.DB.Pgx, logger)
	} else {
		a.Live = live.NewHub()
	}
	emailChannel, err := email.New(email.Config{Sender: sender, BaseURL: strings.TrimSuffix(base.String(), "/"), MAC: a.Secrets.MAC,
		Texts: func(lang string) mail.Translator { return a.I18n.Localizer(lang) },
		Workspaces: func(ctx context.Context, id int64) (string, error) {
			ws, err := a.DB.Reader().Workspace(ctx, id)
			if err != nil {
				return "", err
			}
			return ws.Name, nil
		}})
	if err != nil {
		return nil, err
	}
	channels := []notify.Adapter{emailChannel}
	mobileChannel, err := mobile.Open(cfg.Mobile, mobile.Config{DB: a.DB, Secrets: a.Secrets, BaseURL: strings.TrimSuffix(base.String(), "/"), Logger: logger})
	if err != nil {
		return nil, fmt.Errorf("mobile push: %w", err)
	}
	if mobileChannel != nil {
		channels = append(channels, mobileChannel)
	}
	if cfg.TelegramBotToken != "" {
		if a.Telegram, err = telegram.New(telegram.Config{Token: cfg.TelegramBotToken, APIURL: cfg.TelegramAPIURL, Webhook: cfg.TelegramWebhook,
			BaseURL: strings.TrimSuffix(base.String(), "/"), DB: a.DB, MAC: a.Secrets.MAC, Logger: logger,
			Texts: func(lang string) notify.Translator { return a.I18n.Localizer(lang) }}); err != nil {
			return nil, err
		}
		channels = append(channels, a.Telegram)
	}
	if cfg.BrowserPush {
		subject := pushSubject(cfg, base)
		if a.WebPush, err = webpush.Open(ctx, webpush.Config{DB: a.DB, Secrets: a.Secrets, Subject: subject,
			BaseURL: strings.TrimSuffix(base.String(), "/"), AllowedNetworks: cfg.PushAllowedNetworks,
			HTTPClient: cfg.PushHTTPClient, Logger: logger}); err != nil {
			return nil, fmt.Errorf("browser push: %w", err)
		}
		channels = append(channels, a.WebPush)
	}
	a.Set = services.New(services.Config{DB: a.DB, Mail: mailQueue, Secrets: a.Secrets, Photos: a.Photos,
		BaseURL: base.String(), Auth: authCfg, RecentSignIn: cfg.RecentSignIn,
		Jobs: a.Queue, Workers: workers, Live: a.Live, Channels: channels, Digests: emailChannel,
		Texts:  func(lang string) notify.Translator { return a.I18n.Localizer(lang) },
		Notify: services.NotifyConfig{Retention: cfg.NotificationRetention, RetryBase: cfg.NotifyRetryBase, RetryCap: cfg.NotifyRetryCap}})
	if a.WebPush != nil {
		// The channel's rules also know which private networks its
		// endpoints may be in (--push-allowed-networks).
		a.Set.Push = a.WebPush.Subscriptions()
	}
	a.Queue.AddPeriodic(notify.PeriodicJobs()...)
	a.Queue.AddPeriodic(profile.PeriodicJobs()...)

	a.Handler, err = a.routes(base)
	if err != nil {
		return nil, err
	}
	if cfg.MetricsAddr != "" {
		// Bound here, so a taken port fails the start rather than a scrape.
		if a.metricsLn, err = net.Listen("tcp", cfg.MetricsAddr); err != nil {
			return nil, fmt.Errorf("metrics listener: %w", err)
		}
	}
	return a, nil
}

// pushSubject is the contact push services see in VAPID tokens (RFC 8292
// §2.1): the one given, else the mail sender's address, else an https
// base URL. Without any, a mailto: at the base URL's host stands in:
// Google's and Mozilla's push services take it, Apple's may not.
func pushSubject(cfg Config, base *url.URL) string {
	switch {
	case cfg.PushSubject != "":
		return cfg.PushSubject
	case cfg.MailFrom != "":
		if addr, err := stdmail.ParseAddress(cfg.MailFrom); err == nil {
			return "mailto:" + addr.Address
		}
	case base.Scheme == "https":
		return strings.TrimSuffix(base.String(), "/")
	}
	return "mailto:roster@" + base.Hostname()
}

// Migrate applies Roster's and the job queue's migrations.
func Migrate(ctx context.Context, db *store.DB) error {
	if err := db.Migrate(ctx); err != nil {
		return err
	}
	if err := jobs.Migrate(ctx, jobs.Engine(db.Engine), db.W); err != nil {
		return fmt.Errorf("job queue migrations: %w", err)
	}
	return nil
}

func (a *App) routes(base *url.URL) (http.Handler, error) {
	https := base.Scheme == "https"
	webDeps := web.Deps{Accounts: a.Accounts, Auth: a.Auth, Profiles: a.Profiles, Security: a.Security, Notify: a.Notify, Devices: a.Devices, I18n: a.I18n, BaseURL: base,
		DevOutbox: a.Config.SMTPURL == "", Logger: a.Logger}
	apiDeps := api.Deps{Accounts: a.Accounts, Auth: a.Auth, Profiles: a.Profiles, Security: a.Security,
		Notify: a.Notify, Devices: a.Devices, Live: a.Live, I18n: a.I18n, RatePerSecond: a.Config.APIRate,
		RateBurst: a.Config.APIBurst, Version: Version, SecureCookies: https}
	if a.Telegram != nil {
		webDeps.Telegram, apiDeps.Telegram = a.Telegram, a.Telegram
	}
	webDeps.Push, apiDeps.Push = a.Push, a.Push
	if a.WebPush != nil {
		webDeps.PushKey, apiDeps.PushKey = a.WebPush.PublicKey(), a.WebPush.PublicKey()
	}
	pages, err := web.New(webDeps)
	if err != nil {
		return nil, fmt.Errorf("pages: %w", err)
	}
	mux := http.NewServeMux()
	doors := &httpx.Recorder{Router: mux}
	pages.Register(doors)
	jsonAPI, err := api.New(apiDeps)
	if err != nil {
		return nil, err
	}
	jsonAPI.Register(doors)
	a.Routes = doors.Patterns
	if a.Telegram != nil && a.Config.TelegramWebhook {
		mux.Handle("POST "+telegram.WebhookPath, a.Telegram.WebhookHandler())
	}
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		_, _ = w.Write([]byte("ok\n"))
	})
	mux.HandleFunc("GET /readyz", func(w http.ResponseWriter, r *http.Request) {
		ctx, cancel := context.WithTimeout(r.Context(), 2*time.Second)
		defer cancel()
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		if err := a.DB.Ping(ctx); err != nil {
			httpx.Logger(r.Context()).Error("readiness check failed", "err", err)
			w.WriteHeader(http.StatusServiceUnavailable)
			_, _ = w.Write([]byte("database unreachable\n"))
			return
		}
		_, _ = w.Write([]byte("ok\n"))
	})
	// /metrics is not on this listener: it tells anyone the routes in use,
	// error rates and process details. It has its own (MetricsAddr).
	mux.Handle("/", pages.Fallback(mux))

	denied := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if strings.HasPrefix(r.URL.Path, api.Prefix+"/") {
			jsonAPI.CrossOriginDenied().ServeHTTP(w, r)
			return
		}
		pages.CSRFDenied().ServeHTTP(w, r)
	})
	csrf, err := httpx.CSRF([]string{base.String()}, denied)
	if err != nil {
		return nil, err
	}
	var proxies []netip.Prefix
	for _, p := range a.Config.TrustedProxies {
		pfx, err := netip.ParsePrefix(strings.TrimSpace(p))
		if err != nil {
			return nil, fmt.Errorf("trusted proxy %q: %w", p, err)
		}
		proxies = append(proxies, pfx)
	}
	clientIP := httpx.ClientIP{TrustedProxies: proxies}
	return httpx.Chain(httpx.CaptureRoute(mux),
		httpx.RequestID,
		clientIP.Middleware,
		httpx.Deadlines(a.Config.Timeouts, httpx.NewRouteClasses(RouteClasses)),
		httpx.Logging(a.Logger),
		httpx.RecoverWith(pages.InternalError()),
		httpx.NewMetrics(a.Registry).Middleware,
		httpx.SecurityHeaders(https),
		csrf,
	), nil
}

// Run starts the job workers and serves HTTP until ctx ends, then shuts
// down gracefully: stops accepting, lets in-flight requests and running jobs
// finish within ShutdownTimeout.
func (a *App) Run(ctx context.Context, ln net.Listener) error {
	if err := a.Queue.Start(ctx); err != nil {
		return fmt.Errorf("start job queue: %w", err)
	}
	listenCtx, stopListening := context.WithCancel(context.WithoutCancel(ctx))
	listening := make(chan struct{})
	go func() { defer close(listening); a.Live.Listen(listenCtx) }()
	// The caches of sessions, tokens and policies hear other instances'
	// changes (PostgreSQL); they stay off until this listener is up.
	changes := make(chan struct{})
	go func() { defer close(changes); a.DB.ListenChanges(listenCtx, a.Logger) }()
	defer func() { stopListening(); <-listening; <-changes }()
	if a.Telegram != nil {
		// Polling (or the webhook's registration) runs beside the job
		// queue and stops with it.
		tgCtx, stopTelegram := context.WithCancel(ctx)
		tgDone := make(chan struct{})
		go func() { defer close(tgDone); a.Telegram.Run(tgCtx) }()
		defer func() { stopTelegram(); <-tgDone }()
	}
	// No ReadTimeout or WriteTimeout: httpx.Deadlines sets them per route
	// class (a server-wide one would cut uploads or be too long for forms).
	srv := &http.Server{Handler: a.Handler, ReadHeaderTimeout: a.Config.Timeouts.WithDefaults().Header, IdleTimeout: 2 * time.Minute,
		ErrorLog: slog.NewLogLogger(a.Logger.Handler(), slog.LevelWarn)}
	errc := make(chan error, 2)
	go func() { errc <- srv.Serve(ln) }()
	a.Logger.Info("roster is running", "addr", ln.Addr().String(), "base_url", a.Config.BaseURL, "engine", a.DB.Engine, "version", Version)
	var metricsSrv *http.Server
	if a.metricsLn != nil {
		mux := http.NewServeMux()
		mux.Handle("GET /metrics", promhttp.HandlerFor(a.Registry, promhttp.HandlerOpts{Registry: a.Registry}))
		if a.Config.Pprof {
			// Only on the private listener: profiles tell a lot.
			mux.HandleFunc("/debug/pprof/", pprof.Index)
			mux.HandleFunc("/debug/pprof/cmdline", pprof.Cmdline)
			mux.HandleFunc("/debug/pprof/profile", pprof.Profile)
			mux.HandleFunc("/debug/pprof/symbol", pprof.Symbol)
			mux.HandleFunc("/debug/pprof/trace", pprof.Trace)
		}
		metricsSrv = &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second, ReadTimeout: 30 * time.Second, WriteTimeout: 2 * time.Minute,
			ErrorLog: slog.NewLogLogger(a.Logger.Handler(), slog.LevelWarn)}
		go func() { errc <- metricsSrv.Serve(a.metricsLn) }()
		a.Logger.Info("metrics are served", "addr", a.metricsLn.Addr().String())
	}

	var serveErr error
	select {
	case <-ctx.Done():
	case serveErr = <-errc:
	}
	a.Logger.Info("shutting down")
	// Open streams end now: Shutdown waits for handlers, and a stream's
	// handler never ends by itself.
	a.Live.Close()
	sctx, cancel := context.WithTimeout(context.Background(), a.Config.ShutdownTimeout)
	defer cancel()
	err := errors.Join(srv.Shutdown(sctx), a.Queue.Stop(sctx))
	if metricsSrv != nil {
		err = errors.Join(err, metricsSrv.Shutdown(sctx))
	}
	if serveErr != nil && !errors.Is(serveErr, http.ErrServerClosed) {
		err = errors.Join(serveErr, err)
	}
	return err
}

// MetricsAddr is the address /metrics is served on, "" when off.
func (a *App) MetricsAddr() string {
	if a.metricsLn == nil {
		return ""
	}
	return a.metricsLn.Addr().String()
}

// Close releases the database and mail connections.
func (a *App) Close() error {
	var errs []error
	if a.metricsLn != nil {
		// Already closed when Run shut its server down.
		if err := a.metricsLn.Close(); err != nil && !errors.Is(err, net.ErrClosed) {
			errs = append(errs, err)
		}
	}
	if a.smtp != nil {
		errs = append(errs, a.smtp.Close())
	}
	if a.Photos != nil {
		errs = append(errs, a.Photos.Close())
	}
	if a.DB != nil {
		if a.Set != nil {
			ctx, cancel := context.WithTimeout(context.Background(), a.Config.ShutdownTimeout)
			errs = append(errs, a.Set.Close(ctx))
			cancel()
		}
		errs = append(errs, a.DB.Close())
	}
	return errors.Join(errs...)
}

// pollInterval is how often the queue looks for new jobs. PostgreSQL is
// told of new jobs by NOTIFY; SQLite has no such signal, so it polls often
// enough that an event reaches open streams well within a second (one
// cheap indexed query per interval).
func pollInterval(configured time.Duration, engine store.Engine) time.Duration {
	if configured > 0 || engine != store.SQLite {
		return configured
	}
	return 50 * time.Millisecond
}

func portOf(addr string) string {
	_, port, err := net.SplitHostPort(addr)
	if err != nil || port == "" || port == "80" {
		return ""
	}
	return ":" + port
}
